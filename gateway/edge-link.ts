// The gateway's side of one WebSocket to the edge's /xmpp-s2s (XEP-0468, RFC 7395 framing,
// subprotocol "xmpp"). It carries the connection header the edge trusts only with GATEWAY_TOKEN,
// queues frames until the socket opens, and reports backpressure so the TCP side can pause.

import type { IncomingMessage } from "node:http";
import WebSocket from "ws";
import { CONNECTION_HEADER, FRAMING_HEADER, GATEWAY_TOKEN_HEADER, type GatewaySignal } from "../src/gateway-contract.js";

/** What the gateway tells the edge about the TCP connection (src/gateway-contract.ts). */
export interface GatewayConnectionInfo {
  /** The peer's address and port as the gateway saw them, e.g. "203.0.113.5:40212" or "[2001:db8::1]:40212". */
  peer: string;
  /** TLS negotiated on the TCP connection, or null for a plaintext stream. */
  tls: { version: string; cipher?: string } | null;
  /** Identities (DNS SANs) of a client certificate that verified against the gateway's CA bundle. */
  certIdentities: string[];
  /** The gateway port the peer connected to (5269 STARTTLS, 5270 direct TLS). */
  port: number;
  /** Asks for several frames per message (src/gateway-contract.ts). */
  framing?: "batched";
  /** Control frames the gateway wants from the edge (src/gateway-contract.ts). */
  signals?: GatewaySignal[];
  /** The hosted domain the connection can only be for: TLS SNI, or the gateway's only domain. */
  local?: string;
}

/**
 * The most one batched message carries (UTF-16 units of the joined frames): a frame larger than this
 * goes alone (a batch is what one turn of the event loop read: usually one TCP read, <= 64 KiB).
 */
export const MAX_BATCH_CHARS = 256 * 1024;

/** Frames joined in order into messages of at most MAX_BATCH_CHARS (a larger frame goes alone). */
export function batchMessages(frames: readonly string[]): string[] {
  const out: string[] = [];
  let batch: string[] = [];
  let chars = 0;
  for (const frame of frames) {
    if (chars > 0 && chars + frame.length > MAX_BATCH_CHARS) {
      out.push(batch.join(""));
      batch = [];
      chars = 0;
    }
    batch.push(frame);
    chars += frame.length;
  }
  if (batch.length > 0) out.push(batch.join(""));
  return out;
}

/**
 * Issue 11.4: every WebSocket message costs the edge a Durable Object event, whatever it holds. While
 * a message is being written, the frames that arrive meanwhile wait and go together when the write
 * completes: no added latency when the link keeps up, fewer and fuller messages when it does not.
 * Order and frame boundaries are kept. Shared by the one-stream link (EdgeLink) and a multiplexed
 * link's channels (mux-link.ts MuxChannel).
 */
export class HeldWhileInFlight {
  /** Messages handed to the socket whose write has not completed yet. */
  #inFlight = 0;
  #held: string[] = [];
  /** Characters held back now. */
  heldChars = 0;
  /** Messages sent so far. */
  messagesSent = 0;

  constructor(
    /** Writes one message; calls `done` once it is written. */
    private readonly write: (message: string, done: () => void) => void,
    /** Whether what is held may go when the last write completes (the socket is open). */
    private readonly canRelease: () => boolean,
    /** After each completed write (the owner's drain check). */
    private readonly written: () => void = () => {},
    /** Held characters changed by `delta` (a link that counts its channels' held frames). */
    private readonly heldChanged: (delta: number) => void = () => {},
  ) {}

  /** Sends `frames` now unless a message is in flight (or `hold`, e.g. the socket is opening). */
  send(frames: readonly string[], hold = false): void {
    if (!hold && this.#inFlight === 0) return this.#sendNow(frames);
    for (const frame of frames) this.#held.push(frame);
    const chars = frames.reduce((n, f) => n + f.length, 0);
    this.heldChars += chars;
    this.heldChanged(chars);
  }

  /** Sends what is held now, whatever is in flight (the socket opened, or before a close). */
  release(): void {
    if (this.#held.length === 0) return;
    const frames = this.#held;
    this.drop();
    this.#sendNow(frames);
  }

  /** Forgets what is held (the stream ended). */
  drop(): void {
    this.heldChanged(-this.heldChars);
    this.#held = [];
    this.heldChars = 0;
  }

  get inFlight(): boolean {
    return this.#inFlight > 0;
  }

  #sendNow(frames: readonly string[]): void {
    for (const message of batchMessages(frames)) {
      this.#inFlight++;
      this.messagesSent++;
      this.write(message, this.#written);
    }
  }

  readonly #written = () => {
    this.#inFlight--;
    if (this.#inFlight === 0 && this.canRelease()) this.release();
    this.written();
  };
}

/** The edge refused an upgrade: `report` gets "HTTP <status> <the body's first 500 characters>". */
export function readRefusal(res: IncomingMessage, report: (what: string) => void): void {
  let body = "";
  res.setEncoding("utf8");
  res.on("data", (c: string) => (body.length < 2000 ? (body += c) : undefined));
  res.on("end", () => report(`HTTP ${res.statusCode} ${body.slice(0, 500)}`));
  res.on("error", () => report(`HTTP ${res.statusCode}`));
}

export interface EdgeLinkEvents {
  /** One WebSocket message from the edge (one framed element). */
  message(text: string): void;
  /** The WebSocket is gone; `reason` says why when it was not a normal close. */
  closed(reason: string | undefined): void;
  /** bufferedAmount fell below the low-water mark after a pause was requested. */
  drained(): void;
}

/**
 * What a connection needs of its path to the edge: an EdgeLink (one WebSocket per connection) or a
 * channel of a multiplexed link (mux-link.ts). Same events, same flow control.
 */
export interface EdgeStream {
  /** Frames sent now go out at once (not queued behind the link's opening). */
  readonly open: boolean;
  /** True when more than the high-water mark waits to go to the edge: pause the TCP side. */
  readonly congested: boolean;
  /** Whether messages to the edge may hold several frames. */
  readonly batched: boolean;
  /** Whether messages from the edge may hold several frames (read them with a batched FrameReader). */
  readonly receivesBatches: boolean;
  /** WebSocket messages carrying this stream's frames to the edge so far. */
  readonly messagesSent: number;
  send(frame: string): boolean;
  sendMany(frames: string[]): boolean;
  /** Stops reading from the edge (the TCP peer is slow). */
  pause(): void;
  resume(): void;
  /** Ends the stream at the edge after what was sent; closed() follows. */
  close(code?: number, reason?: string): void;
  /** Ends it now. */
  terminate(): void;
}

/** Opens a stream to the edge for one TCP connection. */
export type OpenEdgeStream = (info: GatewayConnectionInfo, highWaterMark: number, events: EdgeLinkEvents) => EdgeStream;

export class EdgeLink implements EdgeStream {
  readonly #ws: WebSocket;
  readonly #queue: string[] = [];
  #queuedBytes = 0;
  #closed = false;
  /** The edge agreed to several frames per message (X-Edge-Framing: batched on its 101). */
  #batched = false;
  readonly #highWaterMark: number;

  constructor(url: string, token: string, info: GatewayConnectionInfo, highWaterMark: number, readonly events: EdgeLinkEvents) {
    this.#highWaterMark = highWaterMark;
    this.#ws = new WebSocket(url, "xmpp", {
      headers: { [GATEWAY_TOKEN_HEADER]: token, [CONNECTION_HEADER]: JSON.stringify(info) },
      perMessageDeflate: false,
      maxPayload: 64 * 1024 * 1024,
    });
    this.#ws.on("upgrade", (res) => {
      this.#batched = info.framing === "batched" && res.headers[FRAMING_HEADER] === "batched";
    });
    this.#ws.on("open", () => {
      if (this.#ws.protocol !== "xmpp") {
        // RFC 7395 §3.2: without the negotiated subprotocol there is no framing contract.
        this.#ws.terminate();
        return this.#finish(`edge did not accept subprotocol xmpp (got '${this.#ws.protocol}')`);
      }
      const queued = this.#queue.splice(0);
      this.#queuedBytes = 0;
      this.#write(queued);
    });
    this.#ws.on("message", (data, isBinary) => {
      this.events.message(isBinary ? Buffer.from(data as Buffer).toString("utf8") : data.toString());
    });
    this.#ws.on("unexpected-response", (_req, res) => readRefusal(res, (what) => this.#finish(`edge refused the WebSocket: ${what}`)));
    this.#ws.on("error", (e) => this.#finish(`edge WebSocket error: ${e.message}`));
    this.#ws.on("close", (code, reason) =>
      this.#finish(code === 1000 || code === 1005 ? undefined : `edge closed the WebSocket: ${code} ${reason.toString()}`));
  }

  get open(): boolean {
    return this.#ws.readyState === WebSocket.OPEN;
  }

  /** True when more than the high-water mark waits to go to the edge: pause the TCP side. */
  get congested(): boolean {
    return this.#queuedBytes + this.#batches.heldChars + this.#ws.bufferedAmount > this.#highWaterMark;
  }

  /** Whether messages may hold several frames (known once the socket is open). */
  get batched(): boolean {
    return this.#batched;
  }

  /** One frame per message from the edge on a one-stream link (src/gateway-contract.ts). */
  readonly receivesBatches = false;

  /** Sends one frame; returns false when the caller should pause reading (drained() follows). */
  send(frame: string): boolean {
    return this.sendMany([frame]);
  }

  /**
   * Sends frames in order: as few messages as the edge allows (batched), else one each. Returns
   * false when the caller should pause reading (drained() follows).
   */
  sendMany(frames: string[]): boolean {
    if (this.#closed || frames.length === 0) return true;
    if (this.#ws.readyState === WebSocket.CONNECTING) {
      for (const frame of frames) {
        this.#queue.push(frame);
        this.#queuedBytes += Buffer.byteLength(frame);
      }
    } else {
      this.#write(frames);
    }
    if (this.congested) this.#waitingDrain = true;
    return !this.congested;
  }
  #waitingDrain = false;

  /** One frame per message (not batched), counted here. */
  #unbatchedSent = 0;
  /** Batched messages: one in flight, what arrives meanwhile after it. */
  readonly #batches = new HeldWhileInFlight(
    (message, done) => this.#ws.send(message, done),
    () => !this.#closed && this.#ws.readyState === WebSocket.OPEN,
    () => this.#sent(),
  );

  /** WebSocket messages sent so far. */
  get messagesSent(): number {
    return this.#unbatchedSent + this.#batches.messagesSent;
  }

  #write(frames: string[]): void {
    if (!this.#batched) {
      for (const frame of frames) this.#ws.send(frame, this.#sent);
      this.#unbatchedSent += frames.length;
      return;
    }
    this.#batches.send(frames);
  }

  readonly #sent = () => {
    if (!this.congested && this.#waitingDrain) {
      this.#waitingDrain = false;
      this.events.drained();
    }
  };

  /** Stops reading frames from the edge (the TCP peer is slow). */
  pause(): void {
    if (this.open) this.#ws.pause();
  }

  resume(): void {
    if (this.open) this.#ws.resume();
  }

  /** Closes the WebSocket (after any frames already sent, such as <close/>). */
  close(code = 1000, reason = ""): void {
    if (this.#closed) return;
    if (this.#ws.readyState === WebSocket.OPEN) this.#batches.release();
    if (this.#ws.readyState === WebSocket.CONNECTING) {
      // Frames queued before the socket opened still matter (e.g. a <close/>): send, then close.
      this.#ws.once("open", () => this.#ws.close(code, reason));
      return;
    }
    this.#ws.close(code, reason);
  }

  terminate(): void {
    this.#ws.terminate();
  }

  #finish(reason: string | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.events.closed(reason);
  }
}
