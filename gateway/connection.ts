// One peer's TCP connection through the gateway. Theory of operation:
//
//   accept ──(STARTTLS port)──> pre-TLS: the gateway itself reads the peer's stream header, answers
//      │                         with its own header and <starttls><required/></starttls> features
//      │                         (RFC 6120 §5.3.1), and <proceed/> (§5.4.2.3), then runs TLS.
//      │                         With GATEWAY_REQUIRE_TLS=false the pre-TLS stream is carried to the
//      │                         edge instead, with <starttls/> added to the edge's features; if the
//      │                         peer takes it, that first WebSocket is closed and a new one opens
//      │                         after TLS (the stream restarts anyway, §5.4.3.3).
//      └─(direct TLS port)──> TLS from the first byte (XEP-0368).
//   after TLS: every peer event goes to the edge as one RFC 7395 frame (header -> <open/>,
//      element -> standalone element, </stream:stream> -> <close/>); the frames completed in one
//      event-loop turn go as one WebSocket message when the edge agreed to batched framing (edge-link.ts).
//      Every edge frame comes back as TCP stream text. The edge learns the peer address, TLS version/cipher and verified client
//      certificate identities from the X-Edge-Connection header (see gateway/README.md), or, on a
//      multiplexed link shared with the address's other connections (GATEWAY_MUX, mux-link.ts),
//      from the channel's open control, which carries the same facts.
//
// The gateway keeps no state beyond the two sockets: any number can run side by side.

import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { Element } from "ltx";
import { StreamError, type StreamErrorCondition } from "../src/errors.js";
import {
  FrameReader,
  NS_FRAMING,
  NS_FRAMING_SERVER,
  NS_SASL,
  NS_STREAM,
  NS_TLS,
  StreamReader,
  closeFrame,
  frameElement,
  headerToOpenFrame,
  serialize,
  streamClose,
  streamHeader,
  type StreamEvent,
} from "../src/xml/index.js";
import type { GatewayConfig } from "./config.js";
import { NS_GATEWAY_CONTROL } from "../src/gateway-contract.js";
import { EdgeLink, type EdgeStream, type GatewayConnectionInfo, type OpenEdgeStream } from "./edge-link.js";
import type { Logger } from "./log.js";


export type ListenerKind = "starttls" | "direct-tls";

type Phase =
  | "pre-tls" // STARTTLS port, the gateway answers the stream itself
  | "pre-tls-proxied" // STARTTLS port, TLS optional: carried to the edge, <starttls/> added
  | "tls-handshake"
  | "proxy" // carried to the edge
  | "closing"
  | "closed";

export interface ConnectionDeps {
  config: GatewayConfig;
  log: Logger;
  /** Runs the server side of TLS on `raw` (after <proceed/>); resolves once the handshake is done. */
  upgrade(raw: Socket): Promise<TLSSocket>;
  /** Called once when both sides are gone. */
  onClosed(): void;
  /** The edge said the stream is authenticated (control frame, src/gateway-contract.ts). */
  authenticated?(): void;
  /** Time source for timeouts (tests). */
  now?: () => number;
  /**
   * Opens this connection's stream to the edge: a channel of a multiplexed link (mux-link.ts, with
   * GATEWAY_MUX on), or by default a WebSocket of its own (edge-link.ts).
   */
  openEdge?: OpenEdgeStream;
}

export class GatewayConnection {
  readonly #deps: ConnectionDeps;
  readonly #config: GatewayConfig;
  readonly #log: Logger;
  readonly #raw: Socket;
  readonly #peer: string;
  #socket: Socket; // the raw socket, then the TLS socket over it
  #phase: Phase;
  #reader: StreamReader;
  #edge: EdgeStream | undefined;
  /** Frames from this turn's reads, not yet handed to the edge link (#flushToEdge). */
  #toSend: string[] = [];
  #flushScheduled = false;
  #frames: FrameReader | undefined;
  #tls: GatewayConnectionInfo["tls"] = null;
  #certIdentities: string[] = [];
  /** Whether the peer has been sent a stream header on the current stream (stream errors need one). */
  #headerSent = false;
  /** The hosted domain the peer asked for, once known. */
  #domain: string | undefined;
  #handshakeTimer: NodeJS.Timeout | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  #lastActivity: number;
  #closedCalled = false;
  #tcpClosed = false;
  #edgeClosed = true; // no edge link yet
  readonly bytes = { fromPeer: 0, toPeer: 0 };
  /** TCP reads from the peer and WebSocket messages to the edge (batching shows as fewer messages). */
  readonly counts = { reads: 0, edgeMessages: 0 };
  readonly #debug: boolean;

  constructor(raw: Socket, kind: ListenerKind, deps: ConnectionDeps) {
    this.#deps = deps;
    this.#config = deps.config;
    this.#raw = raw;
    const addr = raw.remoteAddress ?? "unknown";
    this.#peer = `${addr.includes(":") ? `[${addr}]` : addr}:${raw.remotePort}`;
    this.#log = deps.log.child({ conn: randomBytes(6).toString("hex"), peer: this.#peer, port: raw.localPort, listener: kind });
    this.#debug = this.#log.enabled("debug");
    this.#reader = this.#newReader();
    this.#socket = raw;
    this.#lastActivity = this.#now();
    raw.setNoDelay(true);
    raw.on("error", (e) => this.#log.log("debug", "tcp error", { error: e.message }));
    raw.on("close", () => this.#onTcpClosed());
    // Before TLS (a carried pre-TLS stream) the raw socket is the one written to: when it drains,
    // the edge is read again (#writePeer paused it). On a mux link the pause holds up the address's
    // other connections too, so it must end.
    raw.on("drain", () => this.#socket === raw && this.#edge?.resume());
    this.#handshakeTimer = setTimeout(() => this.#timeout("handshake"), this.#config.handshakeTimeoutMs);
    this.#armIdle();
    this.#log.log("info", "accepted");
    if (kind === "direct-tls") {
      // XEP-0368: TLS from the first byte, run on the admitted raw socket (server.ts).
      this.#phase = "tls-handshake";
      this.#startTls();
    } else {
      this.#phase = this.#config.requireTls ? "pre-tls" : "pre-tls-proxied";
      raw.on("data", (chunk: Buffer) => this.#onPeerData(chunk));
      // Carried to the edge: open its WebSocket now, while the peer's stream header is still on its
      // way (a round trip after the TCP handshake on a real link), as the direct-TLS port does after
      // TLS. Waiting for the header put the WebSocket handshake and the session's start in front of
      // the edge's answer (issue 11.6). Bounded like the socket: per-IP limit and handshake timeout.
      if (this.#phase === "pre-tls-proxied") this.#openEdge();
    }
  }

  get phase(): Phase {
    return this.#phase;
  }

  /** Graceful shutdown (SIGTERM): RFC 6120 §4.9.3.20 system-shutdown to the peer, <close/> to the edge. */
  shutdown(): void {
    if (this.#phase === "closing" || this.#phase === "closed") return;
    this.#fail(new StreamError("system-shutdown", "the gateway is shutting down"), 1001);
  }

  /** Cuts both sockets now (after the shutdown grace period). */
  destroy(): void {
    this.#edge?.terminate();
    this.#socket.destroy();
  }

  #now(): number {
    return this.#deps.now?.() ?? Date.now();
  }

  #newReader(): StreamReader {
    const { maxStanzaBytes, maxDepth, maxAttributes, maxNamespaceDeclarations } = this.#config;
    return new StreamReader({ maxStanzaBytes, maxDepth, maxAttributes, maxNamespaceDeclarations }, { keepSource: true });
  }

  // ------------------------------------------------------------------------------------ peer side

  #onPeerData(chunk: Buffer): void {
    this.bytes.fromPeer += chunk.length;
    this.counts.reads++;
    if (this.#debug) this.#log.log("debug", "peer data", { phase: this.#phase, data: chunk.toString("utf8").slice(0, 2000) });
    this.#lastActivity = this.#now();
    try {
      for (const ev of this.#reader.feed(chunk)) {
        this.#onPeerEvent(ev);
        // STARTTLS: the socket changes hands; nothing after <starttls/> belongs to this reader.
        if (this.#phase === "tls-handshake" || this.#phase === "closing" || this.#phase === "closed") return;
      }
    } finally {
      this.#scheduleFlush();
    }
  }

  /**
   * Frames go to the edge once per turn of the event loop, not per 'data' event: a TLS socket emits
   * one event per TLS record (at most 16 KiB), and every record one TCP read brought arrives in the
   * same turn, so a batch is what the read carried, not a quarter of it. No added latency: the
   * flush runs in the same loop iteration, right after the I/O callbacks.
   */
  #scheduleFlush(): void {
    if (this.#toSend.length === 0 || this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      this.#flushToEdge();
    });
  }

  #onPeerEvent(ev: StreamEvent): void {
    switch (this.#phase) {
      case "pre-tls":
        return this.#preTls(ev);
      case "pre-tls-proxied":
        // Not offered (GATEWAY_OFFER_TLS=false): the edge answers it (RFC 6120 §5.4.2.2 <failure/>).
        if (this.#config.offerTls && ev.type === "element" && ev.element.is("starttls", NS_TLS)) return this.#proceed();
        return this.#toEdge(ev);
      case "proxy":
        return this.#toEdge(ev);
      default:
        return;
    }
  }

  /** RFC 6120 §4.2 / §5.3: the gateway's own pre-TLS stream, which offers only STARTTLS. */
  #preTls(ev: StreamEvent): void {
    if (ev.type === "error") return this.#fail(ev.error);
    if (ev.type === "close") return this.#fail(new StreamError("policy-violation", "stream closed before TLS"));
    if (ev.type === "open") {
      // A pre-1.0 header may name no domain (jabberd2 without a certificate): the one the connection
      // can only be for is its domain, so the refusal below says what is really wrong (no TLS).
      const to = ev.attrs.to?.toLowerCase() ?? (ev.attrs.version === undefined ? this.#impliedLocal() : undefined);
      this.#domain = to && this.#config.domains.includes(to) ? to : undefined;
      this.#sendHeader(ev.attrs);
      // RFC 6120 §4.9.3.6: a 'to' we do not host.
      if (!this.#domain) return this.#fail(new StreamError("host-unknown", `this gateway does not serve '${ev.attrs.to ?? ""}'`));
      // RFC 6120 §4.7.5: STARTTLS needs stream features, which need version 1.0.
      if (!/^1\./.test(ev.attrs.version ?? "")) return this.#fail(new StreamError("unsupported-version", "TLS is required and needs version='1.0'"));
      this.#writePeer(`<stream:features><starttls xmlns='${NS_TLS}'><required/></starttls></stream:features>`);
      return;
    }
    if (ev.element.is("starttls", NS_TLS)) return this.#proceed();
    // RFC 6120 §5.3.1: TLS is mandatory-to-negotiate here; anything else first is refused.
    this.#fail(new StreamError("policy-violation", "STARTTLS is required before anything else"));
  }

  /** RFC 6120 §5.4.2.3: <proceed/>, then the TLS handshake on the same socket. */
  #proceed(): void {
    this.#flushToEdge();
    this.#writePeer(`<proceed xmlns='${NS_TLS}'/>`);
    this.#phase = "tls-handshake";
    if (this.#edge) {
      // The pre-TLS stream to the edge ends here; a new one starts after TLS.
      this.#edge.send(closeFrame());
      this.#detachEdge()?.close(1000);
    }
    this.#raw.removeAllListeners("data");
    this.#startTls();
  }

  /** The server side of TLS on the raw socket; GATEWAY_HANDSHAKE_TIMEOUT_MS bounds it (server.ts, and our timer). */
  #startTls(): void {
    this.#deps.upgrade(this.#raw).then(
      (tlsSocket) => this.#onSecure(tlsSocket),
      (e: Error) => {
        // RFC 6120 §5.4.3.2: on TLS failure the connection is simply closed.
        this.#log.log("info", "tls failed", { error: e.message });
        this.#raw.destroy();
      },
    );
  }

  #onSecure(s: TLSSocket): void {
    this.#socket = s;
    const cipher = s.getCipher();
    this.#tls = { version: s.getProtocol() ?? "unknown", ...(cipher?.standardName ? { cipher: cipher.standardName } : {}) };
    this.#certIdentities = verifiedIdentities(s);
    this.#log.log("info", "tls established", { tls: this.#tls, certIdentities: this.#certIdentities, ...(s.authorizationError ? { certError: String(s.authorizationError) } : {}) });
    this.#reader = this.#newReader();
    this.#headerSent = false;
    this.#phase = "proxy";
    if (s !== this.#raw) s.on("close", () => this.#onTcpClosed());
    s.on("error", (e) => this.#log.log("debug", "tls socket error", { error: e.message }));
    s.on("data", (chunk: Buffer) => this.#onPeerData(chunk));
    s.on("drain", () => this.#edge?.resume());
    // Open the edge link now, in parallel with the peer's new stream header.
    this.#openEdge();
  }

  /**
   * Peer event -> one frame to the edge (RFC 7395 §3.3-3.6). Frames wait in #toSend until the reads
   * of this turn are done, then go together (one message when the edge takes batches).
   */
  #toEdge(ev: StreamEvent): void {
    if (!this.#edge) this.#openEdge();
    switch (ev.type) {
      case "open":
        this.#toSend.push(headerToOpenFrame(ev.attrs));
        this.#clearHandshake();
        return;
      case "element": {
        // The frame is the element exactly as the peer wrote it (issue 10 defect 6): no
        // re-escaping, so the edge's frame limit (the same MAX_STANZA_BYTES, one frame = one unit)
        // sees the peer's own size, byte for byte. Namespaces it inherits from the stream header
        // are not added: they are on the <open/> frame (headerToOpenFrame), and the edge's
        // FrameReader gives every element of the stream that scope, as the TCP stream did.
        const ns = ev.element.getNS();
        if (ns === NS_FRAMING_SERVER || ns === NS_FRAMING || ns === NS_GATEWAY_CONTROL) {
          // A TCP peer's element in the framing namespace would read as <open/> or <close/> at the
          // edge, one in our control namespace is ours alone; neither is a stanza (RFC 6120 §4.9.3.21).
          return this.#fail(new StreamError("unsupported-stanza-type", "framing and control elements are not stanzas on a TCP stream"));
        }
        this.#toSend.push(ev.source ?? frameElement(ev.element));
        return;
      }
      case "close":
        // RFC 6120 §4.4: the peer closed its stream; the edge answers with its own <close/>.
        this.#toSend.push(closeFrame());
        return;
      case "error":
        return this.#fail(ev.error);
    }
  }

  /** Sends the frames waiting in #toSend; pauses the peer when the edge link is congested. */
  #flushToEdge(): void {
    if (this.#toSend.length === 0) return;
    const frames = this.#toSend;
    this.#toSend = [];
    if (this.#edge && !this.#edge.sendMany(frames)) this.#socket.pause();
  }

  // ------------------------------------------------------------------------------------ edge side

  /**
   * The hosted domain this connection can only be for (issue 12.3a): the TLS SNI when it names one of
   * GATEWAY_DOMAINS, else the only one there is. The edge uses it for a pre-1.0 stream header with no
   * 'to' (jabberd2 without a certificate); a header that names a domain is taken at its word.
   */
  #impliedLocal(): string | undefined {
    const sni = (this.#socket as Partial<TLSSocket>).servername;
    if (typeof sni === "string" && this.#config.domains.includes(sni.toLowerCase())) return sni.toLowerCase();
    return this.#config.domains.length === 1 ? this.#config.domains[0] : undefined;
  }

  #openEdge(): void {
    const info: GatewayConnectionInfo = {
      peer: this.#peer,
      tls: this.#tls,
      certIdentities: this.#certIdentities,
      port: this.#raw.localPort ?? 0,
      framing: "batched",
      signals: ["authenticated"],
    };
    const local = this.#impliedLocal();
    if (local) info.local = local;
    this.#edgeClosed = false;
    const open: OpenEdgeStream = this.#deps.openEdge ??
      ((i, highWaterMark, events) => new EdgeLink(this.#config.edgeUrl, this.#config.token, i, highWaterMark, events));
    const link: EdgeStream = open(info, this.#config.highWaterMark, {
      message: (text) => this.#edge === link && this.#fromEdge(text),
      drained: () => this.#edge === link && this.#socket.resume(),
      closed: (reason) => {
        if (this.#edge !== link) return;
        this.counts.edgeMessages += link.messagesSent;
        this.#edgeClosed = true;
        this.#edge = undefined;
        if (reason) this.#log.log("warn", "edge link lost", { reason });
        if (this.#phase === "closing" || this.#phase === "closed") return this.#maybeClosed();
        // The edge went away without closing the stream: tell the peer (RFC 6120 §4.9.3.8).
        this.#fail(new StreamError("internal-server-error", "the edge is unavailable"));
      },
    });
    this.#edge = link;
    const { maxStanzaBytes, maxDepth, maxAttributes, maxNamespaceDeclarations } = this.#config;
    // A mux channel's messages may hold several frames (src/gateway-contract.ts).
    this.#frames = new FrameReader({ maxStanzaBytes: maxStanzaBytes * 4, maxDepth, maxAttributes, maxNamespaceDeclarations }, { batched: link.receivesBatches });
  }

  /** Forgets the current edge link (its events are ignored from now on) and returns it. */
  #detachEdge(): EdgeStream | undefined {
    const link = this.#edge;
    this.#edge = undefined;
    this.#edgeClosed = true;
    this.counts.edgeMessages += link?.messagesSent ?? 0;
    return link;
  }

  #fromEdge(text: string): void {
    this.#lastActivity = this.#now();
    if (this.#debug) this.#log.log("debug", "edge frame", { phase: this.#phase, data: text.slice(0, 2000) });
    for (const ev of this.#frames!.read(text)) {
      switch (ev.type) {
        case "open": {
          this.#sendHeader(undefined, ev.attrs);
          break;
        }
        case "element":
          this.#elementFromEdge(ev.element);
          break;
        case "close":
          // RFC 7395 §3.6 <close/> = RFC 6120 §4.4 </stream:stream>.
          this.#writePeer(streamClose());
          this.#closeTcpSoon();
          break;
        case "error":
          this.#log.log("error", "edge sent a bad frame", { error: ev.error.message });
          this.#fail(new StreamError("internal-server-error"));
          break;
      }
    }
  }

  #elementFromEdge(el: Element): void {
    if (el.getNS() === NS_GATEWAY_CONTROL) {
      // Our own control frame (src/gateway-contract.ts), believed because this link is ours (opened
      // with GATEWAY_TOKEN to GATEWAY_EDGE_URL); never shown to the peer.
      if (el.name === "authenticated") {
        if (this.#debug) this.#log.log("debug", "authenticated by the edge");
        this.#deps.authenticated?.();
      }
      return;
    }
    if (this.#phase === "pre-tls-proxied" && this.#config.offerTls && el.is("features", NS_STREAM) && !el.getChild("starttls", NS_TLS)) {
      // Offer STARTTLS (optional) alongside the edge's own features (RFC 6120 §5.3.1).
      el.children.unshift(new Element("starttls", { xmlns: NS_TLS }));
    }
    this.#writePeer(serialize(el));
    // RFC 6120 §6.4.6: after SASL success both sides start a new stream on the same socket.
    if (el.is("success", NS_SASL)) {
      this.#reader = this.#newReader();
      this.#headerSent = false;
    }
  }

  // ------------------------------------------------------------------------------------ helpers

  /** Our stream header to the peer: from the peer's header (pre-TLS), or the edge's <open/> attributes. */
  #sendHeader(peerAttrs?: Record<string, string>, edgeAttrs?: Record<string, string>): void {
    if (this.#headerSent) return;
    this.#headerSent = true;
    const attrs: Record<string, string | undefined> = edgeAttrs
      ? { ...edgeAttrs }
      : { from: this.#domain ?? peerAttrs?.to, to: peerAttrs?.from, id: randomBytes(12).toString("base64url"), version: "1.0" };
    if (!attrs.from && this.#domain) attrs.from = this.#domain;
    this.#writePeer(streamHeader(attrs));
  }

  #writePeer(text: string): void {
    if (this.#socket.destroyed || this.#socket.writableEnded) return;
    this.bytes.toPeer += Buffer.byteLength(text);
    this.#lastActivity = this.#now();
    if (!this.#socket.write(text)) this.#edge?.pause();
  }

  /** RFC 6120 §4.9: stream error (after a header, §4.9.1.1), close the stream, then the edge. */
  #fail(error: StreamError, wsCode = 1000): void {
    if (this.#phase === "closing" || this.#phase === "closed") return;
    const level = error.condition === "system-shutdown" || error.condition === "connection-timeout" ? "info" : "warn";
    this.#log.log(level, "stream error", { condition: error.condition, text: error.text });
    if (this.#phase === "tls-handshake") {
      this.#phase = "closing";
      this.#socket.destroy();
    } else {
      this.#sendHeader();
      this.#writePeer(serialize(error.toElement() as Element) + streamClose());
      this.#phase = "closing";
      this.#closeTcpSoon();
    }
    // What the peer sent before the error still reaches the edge, then the <close/>.
    this.#flushToEdge();
    const edge = this.#edge;
    if (edge) {
      edge.send(closeFrame());
      edge.close(wsCode, error.condition);
    }
    this.#maybeClosed();
  }

  /** After our </stream:stream>: half-close, and cut the socket if the peer does not follow. */
  #closeTcpSoon(): void {
    if (this.#phase !== "closing") this.#phase = "closing";
    this.#socket.end();
    setTimeout(() => this.#socket.destroy(), 5_000).unref();
  }

  #onTcpClosed(): void {
    if (this.#tcpClosed) return;
    this.#tcpClosed = true;
    this.#log.log("info", "tcp closed", {
      bytesFromPeer: this.bytes.fromPeer,
      bytesToPeer: this.bytes.toPeer,
      reads: this.counts.reads,
      edgeMessages: this.counts.edgeMessages + (this.#edge?.messagesSent ?? 0),
    });
    // What the peer sent before it went away still reaches the edge, ahead of the close.
    this.#flushToEdge();
    const edge = this.#edge;
    if (edge) {
      // The transport is gone: the edge learns it from the WebSocket closing (no <close/>: the
      // peer did not close its stream).
      edge.close(1000, "peer connection closed");
    }
    this.#phase = "closing";
    this.#maybeClosed();
  }

  #maybeClosed(): void {
    if (!this.#tcpClosed || !this.#edgeClosed || this.#closedCalled) return;
    this.#closedCalled = true;
    this.#phase = "closed";
    this.#clearHandshake();
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#deps.onClosed();
  }

  #clearHandshake(): void {
    if (this.#handshakeTimer) clearTimeout(this.#handshakeTimer);
    this.#handshakeTimer = undefined;
  }

  #armIdle(): void {
    const due = this.#lastActivity + this.#config.idleTimeoutMs - this.#now();
    this.#idleTimer = setTimeout(() => {
      if (this.#now() - this.#lastActivity >= this.#config.idleTimeoutMs) this.#timeout("idle");
      else this.#armIdle();
    }, Math.max(due, 10));
    this.#idleTimer.unref();
  }

  #timeout(which: "handshake" | "idle"): void {
    const condition: StreamErrorCondition = "connection-timeout";
    this.#fail(new StreamError(condition, which === "handshake" ? "stream setup took too long" : "idle for too long"));
  }
}

/**
 * RFC 6120 §13.7.1.2 / RFC 6125: the DNS identities of a client certificate that verified against
 * our CA bundle. Unverified certificates yield none: the edge must not trust them.
 */
export function verifiedIdentities(s: TLSSocket): string[] {
  if (!s.authorized) return [];
  const cert = s.getPeerCertificate();
  if (!cert || !cert.subjectaltname) return [];
  return cert.subjectaltname
    .split(/,\s*/)
    .filter((e) => e.startsWith("DNS:"))
    .map((e) => e.slice(4).toLowerCase());
}
