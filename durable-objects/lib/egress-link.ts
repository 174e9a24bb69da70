// The outbound transport through the gateway's egress (issue 12 item 1, contract in
// src/gateway-contract.ts): one authenticated WebSocket to GATEWAY_EGRESS_URL per connection; the
// gateway dials the target and does TLS with Node (RFC 6125 / RFC 7712 checks against the XMPP
// domain, self-signed only where policy allows it, our certificate as client certificate). Stream
// bytes travel as binary messages, exactly as on TCP; STARTTLS is a control frame. Same surface as
// TcpLink, so OutboundStream runs the engine over either.

import type { Limits } from "../../src/config.js";
import type { Outgoing, TlsInfo } from "../../src/engine/index.js";
import type { Target } from "../../src/resolve/resolver.js";
import {
  CONNECTION_HEADER, EGRESS_ERROR_HEADER, EGRESS_HEADER, GATEWAY_TOKEN_HEADER,
  type EgressControl, type EgressFacts, type EgressRequest,
} from "../../src/gateway-contract.js";
import { TcpCodec, type WireEvent } from "./codec.js";
import { ConnectError, type OutboundLink } from "./tcp-link.js";

type ReaderLimits = Pick<Limits, "maxStanzaBytes" | "maxDepth" | "maxAttributes" | "maxNamespaceDeclarations">;
const enc = new TextEncoder();

/** The engine's view of what the gateway verified (XEP-0178 needs both sides' certificates). */
export function tlsInfoOf(f: EgressFacts): TlsInfo {
  return {
    peerCertificate: { status: f.certificate === "valid" ? "valid" : f.certificate === "untrusted" ? "untrusted" : "none", names: f.certIdentities },
    localNames: f.localCertIdentities,
  };
}

/** A binary WebSocket message as bytes, whatever form the runtime hands it in. */
async function toBytes(m: unknown): Promise<Uint8Array> {
  if (m instanceof Uint8Array) return m;
  if (ArrayBuffer.isView(m)) return new Uint8Array(m.buffer, m.byteOffset, m.byteLength);
  if (typeof (m as Blob).arrayBuffer === "function") return new Uint8Array(await (m as Blob).arrayBuffer());
  return new Uint8Array(m as ArrayBuffer);
}

export class EgressLink implements OutboundLink {
  readonly via = "gateway" as const;
  #codec: TcpCodec;
  #closed = false;
  #tlsWanted: { resolve: (i: TlsInfo) => void; reject: (e: Error) => void } | undefined;
  readonly #inbox: (ArrayBuffer | string | null)[] = [];
  #wake: (() => void) | undefined;
  tlsFailure: Error | undefined;
  bytesIn = 0;
  bytesOut = 0;

  private constructor(
    private readonly ws: WebSocket,
    readonly target: Target,
    /** What the gateway verified when it connected (direct TLS), or the plaintext facts. */
    readonly facts: EgressFacts,
    limits: ReaderLimits,
  ) {
    this.#codec = new TcpCodec(limits);
    ws.addEventListener("message", (e) => this.#push(e.data as ArrayBuffer | string));
    ws.addEventListener("close", () => this.#push(null));
    ws.addEventListener("error", () => this.#push(null));
  }

  /** Asks the gateway to dial `target`; rejects with ConnectError when it cannot (next target). */
  static async open(url: string, token: string, target: Target, req: Omit<EgressRequest, "host" | "port" | "tls">, limits: ReaderLimits, timeoutMs: number): Promise<EgressLink> {
    const request: EgressRequest = { host: target.host, port: target.port, tls: target.directTls ? "direct" : "starttls", ...req };
    let res: Response;
    try {
      // A timer, not an AbortSignal: the signal would also end the WebSocket later (seen at 10 s).
      let timer: ReturnType<typeof setTimeout> | undefined;
      res = await Promise.race([
        fetch(url.replace(/^ws/, "http"), {
          headers: { upgrade: "websocket", [GATEWAY_TOKEN_HEADER]: token, [EGRESS_HEADER]: JSON.stringify(request) },
        }),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs))),
      ]).finally(() => clearTimeout(timer));
    } catch (err) {
      throw new ConnectError(`gateway egress ${url}: ${(err as Error).message}`);
    }
    const ws = res.webSocket;
    if (res.status !== 101 || !ws) {
      throw new ConnectError(`gateway egress to ${target.host}:${target.port}: ${res.status} ${res.headers.get(EGRESS_ERROR_HEADER) ?? ""}`.trim());
    }
    ws.accept();
    const facts = JSON.parse(res.headers.get(CONNECTION_HEADER) ?? "null") as EgressFacts | null;
    return new EgressLink(ws, target, facts ?? { peer: `${target.host}:${target.port}`, tls: null, certIdentities: [], certificate: "none", localCertIdentities: [] }, limits);
  }

  #push(m: ArrayBuffer | string | null): void {
    this.#inbox.push(m);
    this.#wake?.();
  }

  setLimits(limits: ReaderLimits): void {
    if (this.bytesIn > 0) throw new Error("EgressLink.setLimits after reading began");
    this.#codec = new TcpCodec(limits);
  }

  /** Reads until the WebSocket ends; each decoded event is awaited before the next message. */
  async run(onEvent: (e: WireEvent) => Promise<void>): Promise<void> {
    try {
      for (;;) {
        if (this.#inbox.length === 0) await new Promise<void>((r) => (this.#wake = r));
        this.#wake = undefined;
        const m = this.#inbox.shift();
        if (m === undefined) continue;
        if (m === null) {
          for (const e of this.#codec.end()) await onEvent(e);
          return;
        }
        if (typeof m === "string") {
          this.#control(JSON.parse(m) as EgressControl);
          continue;
        }
        const bytes = await toBytes(m);
        this.bytesIn += bytes.byteLength;
        for (const e of this.#codec.feed(bytes)) await onEvent(e);
      }
    } catch {
      // A bad control frame or a reader error: the stream ends (reported as transport closed).
    } finally {
      this.#closed = true;
      this.#tlsWanted?.reject(this.tlsFailure ?? new Error("gateway egress closed during STARTTLS"));
    }
  }

  #control(c: EgressControl): void {
    if (c.op !== "tls" || !this.#tlsWanted) return;
    const wanted = this.#tlsWanted;
    this.#tlsWanted = undefined;
    if (!c.ok) {
      this.tlsFailure = new Error(c.reason);
      wanted.reject(this.tlsFailure);
      return;
    }
    // RFC 6120 §5.4.3.3: a new stream over TLS; nothing of the old one is parsed on.
    this.#codec.reset();
    const { op: _op, ok: _ok, ...facts } = c;
    wanted.resolve(tlsInfoOf(facts));
  }

  write(out: Outgoing): void {
    if (this.#closed) return;
    const bytes = enc.encode(this.#codec.encode(out));
    this.bytesOut += bytes.byteLength;
    try {
      this.ws.send(bytes);
    } catch {
      this.#push(null);
    }
  }

  /** STARTTLS by the gateway, after the peer's <proceed/>; resolves with what it verified. */
  startTls(): Promise<TlsInfo> {
    return new Promise((resolve, reject) => {
      this.#tlsWanted = { resolve, reject };
      this.ws.send(JSON.stringify({ op: "starttls" } satisfies EgressControl));
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.ws.close(1000, "stream closed");
    } catch {
      // already gone
    }
  }
}
