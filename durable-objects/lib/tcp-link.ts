// The outbound transport: connect() (cloudflare:sockets) to one resolved target, a read loop feeding
// decoded events to the session, serialised writes, and STARTTLS (RFC 6120 §5.4.3.3) done the way the
// Sockets API wants it: no read or write lock held when startTls() swaps the socket.

import { connect } from "cloudflare:sockets";
import type { Outgoing, TlsInfo } from "../../src/engine/index.js";
import type { Target } from "../../src/resolve/resolver.js";
import type { Limits } from "../../src/config.js";
import { TcpCodec, type WireEvent } from "./codec.js";
import type { Link } from "./session-host.js";
import { concatBytes } from "../../src/bytes.js";

export class ConnectError extends Error {}

/** What OutboundStream needs of a transport: connect() (TcpLink) or the gateway egress (EgressLink). */
export interface OutboundLink extends Link {
  readonly target: Target;
  readonly via: "connect" | "gateway";
  tlsFailure: Error | undefined;
  bytesIn: number;
  bytesOut: number;
  setLimits(limits: Pick<Limits, "maxStanzaBytes" | "maxDepth" | "maxAttributes" | "maxNamespaceDeclarations">): void;
  run(onEvent: (e: WireEvent) => Promise<void>): Promise<void>;
  startTls(): Promise<TlsInfo | void>;
}

const enc = new TextEncoder();

export class TcpLink implements OutboundLink {
  readonly via = "connect" as const;
  #socket: Socket;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #writes: Promise<void> = Promise.resolve();
  /** No write is pending on the socket (#writes has settled). */
  #idle = true;
  /** Written by this step, not yet flushed. */
  #out: Uint8Array[] = [];
  #codec: TcpCodec;
  #tlsWanted: { resolve: () => void; reject: (e: Error) => void } | undefined;
  #closed = false;
  /** Set when TLS failed after the upgrade call (the handshake error surfaced at the first read). */
  tlsFailure: Error | undefined;
  #tlsUnconfirmed = false;
  bytesIn = 0;
  bytesOut = 0;

  private constructor(
    socket: Socket,
    readonly target: Target,
    private readonly servername: string,
    limits: Pick<Limits, "maxStanzaBytes" | "maxDepth" | "maxAttributes" | "maxNamespaceDeclarations">,
  ) {
    this.#socket = socket;
    this.#writer = socket.writable.getWriter();
    this.#codec = new TcpCodec(limits);
  }

  /** Opens a connection; rejects with ConnectError on refusal or after `timeoutMs`. */
  static async open(target: Target, servername: string, limits: Pick<Limits, "maxStanzaBytes" | "maxDepth" | "maxAttributes" | "maxNamespaceDeclarations">, timeoutMs: number): Promise<TcpLink> {
    // XEP-0368 direct TLS from the first byte; otherwise plaintext that may upgrade with STARTTLS.
    const socket = connect({ hostname: target.host, port: target.port }, { secureTransport: target.directTls ? "on" : "starttls", allowHalfOpen: false });
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        socket.opened,
        new Promise((_, reject) => (timer = setTimeout(() => reject(new ConnectError(`connect timeout after ${timeoutMs} ms`)), timeoutMs))),
      ]);
    } catch (err) {
      void socket.close().catch(() => {});
      throw err instanceof ConnectError ? err : new ConnectError(`${target.host}:${target.port}: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
    return new TcpLink(socket, target, servername, limits);
  }

  /**
   * The reader's limits (RFC 6120 §13.12: the policy's maxStanzaBytes knob), known once the policy
   * read that ran alongside the connect is done; only before run() started reading.
   */
  setLimits(limits: Pick<Limits, "maxStanzaBytes" | "maxDepth" | "maxAttributes" | "maxNamespaceDeclarations">): void {
    if (this.bytesIn > 0) throw new Error("TcpLink.setLimits after reading began");
    this.#codec = new TcpCodec(limits);
  }

  /** Reads until the socket ends; each decoded event is awaited before the next chunk is read. */
  async run(onEvent: (e: WireEvent) => Promise<void>): Promise<void> {
    try {
      for (;;) {
        const reader = this.#socket.readable.getReader();
        let upgrade = false;
        for (;;) {
          const { value, done } = await reader.read();
          if (done) {
            for (const e of this.#codec.end()) await onEvent(e);
            return;
          }
          this.bytesIn += value.byteLength;
          this.#tlsUnconfirmed = false;
          for (const e of this.#codec.feed(value)) await onEvent(e);
          if (this.#tlsWanted) {
            upgrade = true;
            break;
          }
        }
        reader.releaseLock();
        if (upgrade) await this.#upgrade();
      }
    } catch (err) {
      // Reset by the peer (reported as transport closed by the caller), or the TLS handshake failing.
      if (this.#tlsUnconfirmed) this.tlsFailure = err as Error;
    } finally {
      this.#closed = true;
    }
  }

  write(out: Outgoing): void {
    if (this.#closed) return;
    const bytes = enc.encode(this.#codec.encode(out));
    this.bytesOut += bytes.byteLength;
    this.#out.push(bytes);
    if (this.#out.length === 1) queueMicrotask(() => this.flush());
  }

  /**
   * What a step wrote goes as one write, handed to the socket now when no earlier write is pending.
   * The stream's host calls this after the step and before saving its state: chained behind a
   * promise, the write used to reach the socket after that storage write and wait for its commit
   * (the output gate; issue 11.6, "connected -> stream header sent").
   */
  flush(): void {
    if (this.#out.length === 0) return;
    const chunk = this.#out.length === 1 ? this.#out[0]! : concatBytes(this.#out);
    this.#out = [];
    if (this.#closed) return;
    const started = this.#idle ? this.#writer.write(chunk) : this.#writes.then(() => this.#writer.write(chunk));
    this.#idle = false;
    const done: Promise<void> = started.catch(() => {}).then(() => {
      if (this.#writes === done) this.#idle = true;
    });
    this.#writes = done;
  }

  startTls(): Promise<void> {
    return new Promise((resolve, reject) => (this.#tlsWanted = { resolve, reject }));
  }

  async #upgrade(): Promise<void> {
    const wanted = this.#tlsWanted!;
    this.#tlsWanted = undefined;
    try {
      await this.#writes;
      this.#writer.releaseLock();
      // connect() verifies the certificate against public roots for the host it dialled (no
      // opt-out; workerd rejects expectedServerHostname, so for an SRV target the certificate must
      // name that host): a peer with a self-signed certificate fails here or at the first read.
      this.#socket = this.#socket.startTls();
      this.#writer = this.#socket.writable.getWriter();
      this.#codec.reset();
      await this.#socket.opened;
      this.#tlsUnconfirmed = true;
    } catch (err) {
      this.tlsFailure = err as Error;
      wanted.reject(err as Error);
      throw err;
    }
    wanted.resolve();
  }

  close(): void {
    this.flush();
    if (this.#closed) return;
    this.#closed = true;
    void this.#writes.then(() => this.#socket.close()).catch(() => {});
  }
}
