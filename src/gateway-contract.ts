// The contract between the TCP ingress gateway (gateway/) and the edge, shared by both sides (the
// gateway imports only src/). Everything here is believed by the edge only on a WebSocket upgrade
// that carries the right GATEWAY_TOKEN (durable-objects/lib/connection-info.ts checks it), and by
// the gateway only on links it opened itself, with that token, to its configured GATEWAY_EDGE_URL.
//
// Headers on the upgrade (gateway -> edge):
//   X-Edge-Gateway-Token: <GATEWAY_TOKEN>
//   X-Edge-Connection:    {"peer":"203.0.113.5:40212","tls":{...},"certIdentities":[...],"port":5269,
//                          "framing":"batched","signals":["authenticated"]}
// and on the 101 answer (edge -> gateway): X-Edge-Framing: batched when batches are agreed.
//
// Control frame (edge -> gateway), issue 11 item 3: with "signals":["authenticated"] in the header,
// the edge sends, once per stream and as a WebSocket message of its own,
//   <authenticated xmlns='urn:xmpp:dialback-edge:gateway:0'/>
// as soon as the stream has proved who is behind it: an inbound domain pair became valid (XEP-0220
// dialback or SASL EXTERNAL, RFC 6120 §6 / XEP-0178), or the edge answered a db:verify with
// type='valid' (the peer holds a key the edge itself handed out: XEP-0220 §2.4, it is a server
// the edge chose to talk to). The gateway then counts the connection as authenticated (a generous
// per-address budget) instead of unauthenticated (a tight one). The frame never reaches the peer,
// and the gateway refuses a peer's element in this namespace, so a peer cannot forge or observe it.

export const GATEWAY_TOKEN_HEADER = "x-edge-gateway-token";
export const CONNECTION_HEADER = "x-edge-connection";
/** On the 101 answer to the gateway: `batched` when its messages may hold several frames. */
export const FRAMING_HEADER = "x-edge-framing";

/** Namespace of the edge -> gateway control frames. */
export const NS_GATEWAY_CONTROL = "urn:xmpp:dialback-edge:gateway:0";

/** Signals a gateway may ask for in X-Edge-Connection `signals`. */
export type GatewaySignal = "authenticated";

/** The control frame: this stream is authenticated (see the top of this file). */
export function authenticatedFrame(): string {
  return `<authenticated xmlns='${NS_GATEWAY_CONTROL}'/>`;
}

// ---- Egress (issue 12 item 1): the edge asks the gateway to dial a peer for it. ----
//
// The edge (a RemoteDomain or AuthorityLink) opens a WebSocket to GATEWAY_EGRESS_URL with
//   X-Edge-Gateway-Token: <GATEWAY_TOKEN>
//   X-Edge-Egress:        {"host":"xmpp.peer.example","port":5269,"tls":"starttls","domain":"peer.example",
//                          "from":"edge.example","acceptUntrusted":false}
// The gateway connects (TCP; for "direct" TLS at once, XEP-0368) before it answers: 101 with
//   X-Edge-Connection: {"peer":"192.0.2.1:5269","tls":{...}|null,"certIdentities":[...],
//                       "certificate":"valid"|"untrusted"|"none","localCertIdentities":[...]}
// (the ingress header's fields, plus what the peer's certificate was judged and which names our own
// client certificate carries), or an HTTP error whose X-Edge-Egress-Error says why (401 token,
// 400 bad request, 502 the peer could not be reached or its certificate refused).
// Then binary messages carry the stream's bytes both ways, exactly as on the TCP connection (after
// TLS: the plaintext); text messages are control frames, JSON:
//   edge -> gateway {"op":"starttls"}  after the peer's <proceed/> (RFC 6120 §5.4.2.3)
//   gateway -> edge {"op":"tls","ok":true,...the X-Edge-Connection facts} or {"op":"tls","ok":false,"reason":"..."}
// Certificates are checked by RFC 6125 / RFC 7712 against `domain` (the XMPP domain, SNI too), not
// against `host`. A certificate that does not verify is accepted only with acceptUntrusted (policy
// level "encrypted" or below), and then reported as "untrusted" with no certIdentities. The gateway
// keeps nothing: a restart drops the link and the edge dials again.

export const EGRESS_HEADER = "x-edge-egress";
export const EGRESS_ERROR_HEADER = "x-edge-egress-error";

export interface EgressRequest {
  host: string;
  port: number;
  /** "direct": XEP-0368 TLS from the first byte; "starttls": plaintext that may upgrade. */
  tls: "direct" | "starttls";
  /** The XMPP domain dialled: SNI and the certificate's reference identity. */
  domain: string;
  /** Our hosted domain opening the stream: the client certificate must name it. */
  from: string;
  /** Policy allows TLS without authentication (levels verified and encrypted). */
  acceptUntrusted: boolean;
}

export interface EgressFacts {
  peer: string;
  tls: { version: string; cipher?: string } | null;
  /** The XMPP domain, when the certificate verified and names it (RFC 6125); else []. */
  certIdentities: string[];
  certificate: "valid" | "untrusted" | "none";
  /** Names in the client certificate the gateway presented (for SASL EXTERNAL, XEP-0178). */
  localCertIdentities: string[];
}

export type EgressControl =
  | { op: "starttls" }
  | ({ op: "tls"; ok: true } & EgressFacts)
  | { op: "tls"; ok: false; reason: string };

/** Validates an X-Edge-Egress header value; a string says what is wrong. */
export function parseEgressRequest(raw: string | undefined): EgressRequest | string {
  if (!raw) return "X-Edge-Egress is missing";
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return "X-Edge-Egress is not JSON";
  }
  const r = v as Partial<EgressRequest>;
  if (typeof r !== "object" || r === null) return "X-Edge-Egress must be an object";
  if (typeof r.host !== "string" || r.host.length === 0 || r.host.length > 253 || /[\s/]/.test(r.host)) return "host must be a host name or address";
  if (!Number.isInteger(r.port) || r.port! < 1 || r.port! > 65535) return "port must be 1-65535";
  if (r.tls !== "direct" && r.tls !== "starttls") return "tls must be direct or starttls";
  if (typeof r.domain !== "string" || !/^[a-z0-9.-]{1,253}$/.test(r.domain)) return "domain must be a normalized domain";
  if (typeof r.from !== "string" || !/^[a-z0-9.-]{1,253}$/.test(r.from)) return "from must be a normalized domain";
  if (typeof r.acceptUntrusted !== "boolean") return "acceptUntrusted must be true or false";
  return { host: r.host, port: r.port!, tls: r.tls, domain: r.domain, from: r.from, acceptUntrusted: r.acceptUntrusted };
}

// ---- Multiplexed ingress link (issue 11 items 2 and 5): many TCP connections on one WebSocket ----
//
// Measured (bench/runtime-floor.bench.ts): a Durable Object with an accepted WebSocket costs workerd
// ~610 KiB and ~7 ms of CPU before it does any XMPP, and does not give that memory back; a stream
// multiplexed with others on one WebSocket of one DO costs ~28 KiB and ~0.4 ms. A real server with
// many vhosts opens one TCP connection per domain pair from one address, so the gateway carries the
// connections of one peer address over a few WebSockets ("links"), each to one StreamSession DO that
// hosts a stream per connection ("channel").
//
// The gateway opens /xmpp-s2s (subprotocol "xmpp") with X-Edge-Gateway-Token and
//   X-Edge-Connection: {"mux":true,"peer":"203.0.113.5"}       (the address alone: the link is for it)
// and the edge answers 101 with X-Edge-Mux: 1 (and X-Edge-Mux-Batch: 1, below). Then every message is
// text, either way:
//   "<ch> <frames>"  data for channel <ch> (decimal, 1..2^31-1): one or more complete RFC 7395 frames,
//                    as on a batched one-stream link; edge -> gateway also the <authenticated/> frame.
//   "{...}"          a control message, JSON:
//     gateway -> edge {"op":"open","ch":N,"info":{...}}  a new TCP connection; info has the fields of a
//                                                        one-stream link's X-Edge-Connection (peer with
//                                                        port, tls, certIdentities, port, local); the
//                                                        edge opens a stream for it at once (as at a
//                                                        one-stream link's upgrade)
//     gateway -> edge {"op":"close","ch":N}              the TCP connection is gone (as the WebSocket
//                                                        closing under a one-stream link)
//     edge -> gateway {"op":"close","ch":N}              the edge ended the stream (as the edge closing
//                                                        a one-stream link's WebSocket): after the data
//                                                        before it, the gateway ends the TCP connection
// The gateway picks channel numbers, never reusing one on a link; data or close for a channel the
// receiver does not know (a close crossed it) is dropped. A channel is "batched" and "signals
// authenticated" by definition. Flow control is per link (the WebSocket's): one address's slow
// connection can slow that address's other connections on the link, no one else's. The gateway opens
// another link to the same address once a link has GATEWAY_MUX_STREAMS channels open (default 256);
// the edge refuses a channel beyond MUX_MAX_STREAMS (its own limit, default 1024) with a close.
//
// Batch messages (gateway -> edge; the edge says it reads them with X-Edge-Mux-Batch: 1 on its 101):
//   "*<len>:<message><len>:<message>..."  several of the messages above (data or control, never a
//                    batch), in order, each preceded by its length in UTF-16 code units (decimal).
// Why: every WebSocket message is a Durable Object event, and an event costs the edge's workerd ~0.1
// ms of CPU before any of our code runs, ~0.2 ms with the SQLite commit its writes bring (measured
// under wrangler dev, 6,000 messages of one or five records). A host with many vhosts opens its
// connections together, so the gateway has the opens and headers of many channels at once: what the
// channels of a link send in one turn of the gateway's event loop (the reads of the TCP connections
// ready together) goes as one batch at the end of that turn, and what comes while a message is being
// written goes as one batch after it, up to MAX_BATCH_CHARS each. The edge reads a batch as its
// messages one after the other, in one event. Without the header the gateway sends no batch (an
// older edge), and each message goes at once.

/** On the 101 answer to a `"mux":true` upgrade: the edge speaks the multiplexed link protocol. */
export const MUX_HEADER = "x-edge-mux";

/** On that 101 too: the edge reads batch messages ("*<len>:<message>..."). */
export const MUX_BATCH_HEADER = "x-edge-mux-batch";

/** One batch message of `messages` (each a data or control message, none a batch). */
export function muxBatch(messages: readonly string[]): string {
  let out = "*";
  for (const m of messages) out += `${m.length}:${m}`;
  return out;
}

/** Whether `message` is a batch (muxBatch). */
export const isMuxBatch = (message: string): boolean => message.startsWith("*");

/** The messages of a batch, in order, or what is wrong with it. Linear in the message's length. */
export function splitMuxBatch(message: string): string[] | string {
  const out: string[] = [];
  let i = 1;
  while (i < message.length) {
    const colon = message.indexOf(":", i);
    // A length has at most 9 digits (a message is far below 10^9 characters).
    if (colon < 0 || colon === i || colon - i > 9) return "batch record must start with its length and a colon";
    const head = message.slice(i, colon);
    if (!/^(0|[1-9][0-9]*)$/.test(head)) return "batch record length must be a decimal number";
    const len = Number(head);
    const end = colon + 1 + len;
    if (len === 0 || end > message.length) return "batch record length does not fit the message";
    const inner = message.slice(colon + 1, end);
    if (isMuxBatch(inner)) return "a batch cannot hold a batch";
    out.push(inner);
    i = end;
  }
  return out.length > 0 ? out : "empty batch";
}

export type MuxControl =
  | { op: "open"; ch: number; info: Record<string, unknown> }
  | { op: "close"; ch: number };

/** Largest channel number. */
export const MUX_MAX_CHANNEL = 2 ** 31 - 1;

/** One data message: frames for channel `ch`. */
export function muxData(ch: number, frames: string): string {
  return `${ch} ${frames}`;
}

/** One control message. */
export function muxControl(c: MuxControl): string {
  return JSON.stringify(c);
}

/**
 * Reads one message of a multiplexed link: data (channel and frames), a control message, or a
 * string saying what is wrong (the receiver closes the link: its peer is broken, not hostile).
 */
export function parseMux(message: string): { data: true; ch: number; frames: string } | { data: false; control: MuxControl } | string {
  if (message.startsWith("{")) {
    let v: unknown;
    try {
      v = JSON.parse(message);
    } catch {
      return "control message is not JSON";
    }
    const c = v as Partial<{ op: string; ch: number; info: unknown }>;
    if (typeof c !== "object" || c === null || !Number.isInteger(c.ch) || c.ch! < 1 || c.ch! > MUX_MAX_CHANNEL) return "control message needs a channel number";
    if (c.op === "close") return { data: false, control: { op: "close", ch: c.ch! } };
    if (c.op === "open") {
      if (typeof c.info !== "object" || c.info === null || Array.isArray(c.info)) return "open needs an info object";
      return { data: false, control: { op: "open", ch: c.ch!, info: c.info as Record<string, unknown> } };
    }
    return `unknown control op '${String(c.op)}'`;
  }
  const space = message.indexOf(" ");
  if (space < 1 || space > 10) return "data message must start with a channel number and a space";
  const head = message.slice(0, space);
  if (!/^[1-9][0-9]*$/.test(head)) return "data message must start with a channel number and a space";
  const ch = Number(head);
  if (ch > MUX_MAX_CHANNEL) return "channel number out of range";
  return { data: true, ch, frames: message.slice(space + 1) };
}
