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
