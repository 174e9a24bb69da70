// The multiplexed ingress link (src/gateway-contract.ts, "Multiplexed ingress link"): the TCP
// connections of one peer address share a WebSocket ("link") to the edge's /xmpp-s2s, each as a
// numbered channel, so that the edge hosts them as streams of one Durable Object instead of one
// Durable Object each. A channel offers a connection the same interface as a one-stream EdgeLink
// (edge-link.ts: EdgeStream), so the connection code does not know which it has.
//
//   MuxPool ── per address ──> MuxLink (one WebSocket, up to GATEWAY_MUX_STREAMS channels open; the
//                                       next channel of that address opens another link)
//                                 └──> MuxChannel (one TCP connection: open/close controls, data)
//
// Flow control is the link's: congested when what waits for the WebSocket (its bufferedAmount,
// messages queued before it opened, frames the channels hold back) passes the high-water mark;
// the link stops reading from the edge while any of its channels' TCP peers is slow to read. A
// link with no channel left is closed; a lost link closes all its channels.

import WebSocket from "ws";
import {
  CONNECTION_HEADER,
  GATEWAY_TOKEN_HEADER,
  MUX_BATCH_HEADER,
  MUX_HEADER,
  MUX_MAX_CHANNEL,
  muxBatch,
  muxControl,
  muxData,
  parseMux,
} from "../src/gateway-contract.js";
import { HeldWhileInFlight, MAX_BATCH_CHARS, readRefusal, type EdgeLinkEvents, type EdgeStream, type GatewayConnectionInfo } from "./edge-link.js";
import type { Logger } from "./log.js";

export interface MuxPoolOptions {
  /** The edge's /xmpp-s2s URL (GATEWAY_EDGE_URL). */
  url: string;
  /** GATEWAY_TOKEN. */
  token: string;
  /** Channels open at once on one link (GATEWAY_MUX_STREAMS). */
  maxStreams: number;
  log: Logger;
}

/**
 * The address of a connection's `peer` ("203.0.113.5:40212" -> "203.0.113.5",
 * "[2001:db8::1]:40212" -> "2001:db8::1"): links are per address.
 */
export function peerAddress(peer: string): string {
  if (peer.startsWith("[")) {
    const end = peer.indexOf("]");
    return end > 1 ? peer.slice(1, end) : peer;
  }
  const colon = peer.lastIndexOf(":");
  // One colon: IPv4 (or a name) with a port. More: a bare IPv6 address, taken as it is.
  return colon > 0 && peer.indexOf(":") === colon ? peer.slice(0, colon) : peer;
}

/** Hands out channels on links to the edge, one set of links per peer address (one pool per gateway). */
export class MuxPool {
  readonly #options: MuxPoolOptions;
  readonly #links = new Map<string, MuxLink[]>();

  constructor(options: MuxPoolOptions) {
    this.#options = options;
  }

  /** A stream to the edge for one TCP connection, on a link of its address with room for it. */
  channel(info: GatewayConnectionInfo, highWaterMark: number, events: EdgeLinkEvents): MuxChannel {
    const address = peerAddress(info.peer);
    let list = this.#links.get(address);
    let link = list?.find((l) => l.hasRoom);
    if (!link) {
      const created: MuxLink = new MuxLink(this.#options, address, () => this.#forget(address, created));
      link = created;
      if (!list) this.#links.set(address, (list = []));
      list.push(link);
    }
    return link.openChannel(info, highWaterMark, events);
  }

  /** Links in use now for `address` (all addresses when omitted). */
  links(address?: string): number {
    if (address !== undefined) return this.#links.get(address)?.length ?? 0;
    let n = 0;
    for (const list of this.#links.values()) n += list.length;
    return n;
  }

  /** Closes every link (their channels are closed with a reason): the gateway is stopping. */
  close(): void {
    for (const list of [...this.#links.values()]) for (const link of [...list]) link.shutdown();
    this.#links.clear();
  }

  #forget(address: string, link: MuxLink): void {
    const list = this.#links.get(address);
    if (!list) return;
    const i = list.indexOf(link);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#links.delete(address);
  }
}

interface Queued {
  text: string;
  sent?: () => void;
}

/** One WebSocket to the edge carrying the channels of one address. */
class MuxLink {
  readonly #ws: WebSocket;
  readonly #options: MuxPoolOptions;
  readonly #log: Logger;
  readonly #channels = new Map<number, MuxChannel>();
  #nextCh = 1;
  /**
   * Messages (controls first, then data, in order) waiting for the WebSocket to open, or, on a link
   * whose edge reads batches, for the write in flight to complete (they then go as one batch).
   */
  #queue: Queued[] = [];
  #queuedChars = 0;
  /** Writes handed to the WebSocket that have not completed. */
  #inFlight = 0;
  /** The edge answered with X-Edge-Mux-Batch: 1 (src/gateway-contract.ts, batch messages). */
  #batch = false;
  /** A flush of the queue is set for the end of this turn of the event loop. */
  #flushSoon = false;
  /** Frames all channels hold back while a message of theirs is in flight (each MuxChannel's HeldWhileInFlight). */
  heldChars = 0;
  /** Channels whose TCP peer is slow to read: the WebSocket is not read while there are any. */
  #pauses = 0;
  readonly #waitingDrain = new Set<MuxChannel>();
  /** The edge answered with X-Edge-Mux: 1. */
  #mux = false;
  /** Closed because no channel was left: no new channel. */
  #closing = false;
  /** Gone (lost or closed): no more events. */
  #done = false;
  readonly #forget: () => void;

  constructor(options: MuxPoolOptions, address: string, forget: () => void) {
    this.#options = options;
    this.#forget = forget;
    this.#log = options.log.child({ muxPeer: address });
    this.#ws = new WebSocket(options.url, "xmpp", {
      headers: { [GATEWAY_TOKEN_HEADER]: options.token, [CONNECTION_HEADER]: JSON.stringify({ mux: true, peer: address }) },
      perMessageDeflate: false,
      maxPayload: 64 * 1024 * 1024,
    });
    this.#ws.on("upgrade", (res) => {
      this.#mux = res.headers[MUX_HEADER] === "1";
      this.#batch = res.headers[MUX_BATCH_HEADER] === "1";
    });
    this.#ws.on("open", () => this.#onOpen());
    this.#ws.on("message", (data, isBinary) => this.#onMessage(isBinary ? Buffer.from(data as Buffer).toString("utf8") : data.toString()));
    this.#ws.on("unexpected-response", (_req, res) => readRefusal(res, (what) => this.#lost(`edge refused the mux link: ${what}`)));
    this.#ws.on("error", (e) => this.#lost(`edge mux link error: ${e.message}`));
    this.#ws.on("close", (code, reason) => this.#lost(`edge closed the mux link: ${code} ${reason.toString()}`));
  }

  get isOpen(): boolean {
    return !this.#done && this.#ws.readyState === WebSocket.OPEN;
  }

  get readingPaused(): boolean {
    return this.#ws.isPaused;
  }

  /** Whether a new channel may open here. */
  get hasRoom(): boolean {
    return !this.#done && !this.#closing && this.#channels.size < this.#options.maxStreams && this.#nextCh <= MUX_MAX_CHANNEL;
  }

  /** What waits to go to the edge, in bytes or UTF-16 units (the flow control of every channel). */
  get pending(): number {
    return this.#queuedChars + this.heldChars + this.#ws.bufferedAmount;
  }

  openChannel(info: GatewayConnectionInfo, highWaterMark: number, events: EdgeLinkEvents): MuxChannel {
    const ch = this.#nextCh++;
    const channel = new MuxChannel(this, ch, highWaterMark, events);
    this.#channels.set(ch, channel);
    // The edge opens a stream for it at once (src/gateway-contract.ts), as at a one-stream upgrade.
    this.send(muxControl({ op: "open", ch, info: { ...info } }));
    return channel;
  }

  /** One message to the edge, now or once the WebSocket opens; `sent` when it has been written. */
  send(text: string, sent?: () => void): void {
    if (this.#done) return;
    if (this.#ws.readyState === WebSocket.CONNECTING || this.#batch) {
      this.#queue.push({ text, ...(sent ? { sent } : {}) });
      this.#queuedChars += text.length;
      // On a link that takes batches, what the channels send in this turn of the event loop (the
      // reads of many TCP connections ready at once) goes together at its end, or after the write
      // in flight: at most one turn later than alone.
      if (this.#batch && this.#ws.readyState === WebSocket.OPEN && this.#inFlight === 0 && !this.#flushSoon) {
        this.#flushSoon = true;
        setImmediate(() => {
          this.#flushSoon = false;
          if (this.#inFlight === 0 && this.#queue.length > 0 && this.isOpen) this.#release();
        });
      }
      return;
    }
    this.#write([{ text, ...(sent ? { sent } : {}) }]);
  }

  /**
   * Writes `list` in order: as batches of up to MAX_BATCH_CHARS when the edge reads batches (a
   * message alone when it is the only one, or larger), else one message each.
   */
  #write(list: readonly Queued[]): void {
    let group: Queued[] = [];
    let chars = 0;
    const flush = () => {
      if (group.length === 0) return;
      const items = group;
      group = [];
      chars = 0;
      this.#inFlight++;
      this.#ws.send(items.length === 1 ? items[0]!.text : muxBatch(items.map((q) => q.text)), () => {
        this.#inFlight--;
        for (const q of items) q.sent?.();
        // What queued meanwhile goes now, as one batch (the link is still open: not after #lost).
        if (this.#inFlight === 0 && this.#queue.length > 0 && this.isOpen) this.#release();
        this.#written();
      });
    };
    for (const q of list) {
      if (!this.#batch || (chars > 0 && chars + q.text.length > MAX_BATCH_CHARS)) flush();
      group.push(q);
      chars += q.text.length;
    }
    flush();
  }

  /** Writes what is queued. */
  #release(): void {
    const queued = this.#queue;
    this.#queue = [];
    this.#queuedChars = 0;
    this.#write(queued);
  }

  /** `channel` returned congested from a send: tell it when the link drains. */
  waitDrain(channel: MuxChannel): void {
    this.#waitingDrain.add(channel);
  }

  pauseOne(): void {
    if (++this.#pauses === 1 && this.isOpen) this.#ws.pause();
  }

  resumeOne(): void {
    if (--this.#pauses === 0 && this.isOpen) this.#ws.resume();
  }

  /** The gateway ended `channel` (its close control is sent): no more traffic for it. */
  forgetChannel(channel: MuxChannel): void {
    this.#channels.delete(channel.ch);
    this.#waitingDrain.delete(channel);
    if (this.#channels.size === 0) this.#closeIdle();
  }

  /** The gateway is stopping. */
  shutdown(): void {
    this.#closing = true;
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.close(1001, "gateway shutting down");
    else this.#ws.terminate();
    this.#lost("the gateway is shutting down");
  }

  #onOpen(): void {
    if (this.#done) return;
    if (this.#ws.protocol !== "xmpp") {
      // RFC 7395 §3.2: without the negotiated subprotocol there is no framing contract.
      this.#ws.terminate();
      return this.#lost(`edge did not accept subprotocol xmpp (got '${this.#ws.protocol}')`);
    }
    if (!this.#mux) {
      // An edge that does not know the mux link would take it for a one-stream link: never fall back.
      this.#ws.terminate();
      return this.#lost(`edge does not speak the mux link (no X-Edge-Mux: 1 on its 101)`);
    }
    this.#log.log("debug", "mux link open", { channels: this.#channels.size });
    this.#release();
    if (this.#pauses > 0) this.#ws.pause();
    for (const channel of [...this.#channels.values()]) channel.linkOpened();
    if (this.#closing) this.#ws.close(1000, "no channels");
  }

  #onMessage(text: string): void {
    if (this.#done) return;
    const m = parseMux(text);
    if (typeof m === "string" || (!m.data && m.control.op === "open")) {
      // The edge is broken, not hostile: this link ends, its connections with a stream error.
      const problem = typeof m === "string" ? m : "an open control from the edge";
      this.#log.log("error", "edge sent a malformed mux message", { problem, data: text.slice(0, 200) });
      this.#ws.terminate();
      return this.#lost(`edge sent a malformed mux message: ${problem}`);
    }
    // A channel the gateway has closed already (the close crossed the edge's message): dropped.
    const channel = this.#channels.get(m.data ? m.ch : m.control.ch);
    if (!channel) return;
    if (m.data) return channel.received(m.frames);
    // {"op":"close"}: the edge ended the stream, after the data before it.
    this.#channels.delete(channel.ch);
    this.#waitingDrain.delete(channel);
    channel.ended(undefined);
    if (this.#channels.size === 0) this.#closeIdle();
  }

  /** Runs after every write: channels that were told to pause hear that the link drained. */
  #written(): void {
    for (const channel of this.#waitingDrain) {
      if (channel.congested) continue;
      this.#waitingDrain.delete(channel);
      channel.drained();
    }
  }

  #closeIdle(): void {
    if (this.#closing || this.#done) return;
    this.#closing = true;
    this.#forget();
    // Still connecting: what is queued (an open, data, a close) goes first, then the close (#onOpen).
    // Open: what waits behind a write in flight (the last channel's close) goes before the close.
    if (this.#ws.readyState === WebSocket.OPEN) {
      if (this.#queue.length > 0) this.#release();
      this.#ws.close(1000, "no channels");
    }
  }

  #lost(reason: string): void {
    if (this.#done) return;
    this.#done = true;
    this.#forget();
    const channels = [...this.#channels.values()];
    this.#channels.clear();
    this.#waitingDrain.clear();
    this.#queue = [];
    this.#queuedChars = 0;
    if (channels.length > 0) this.#log.log("warn", "mux link lost", { reason, channels: channels.length });
    for (const channel of channels) channel.ended(reason);
  }
}

/** One TCP connection's stream on a link: the EdgeStream the connection code uses. */
export class MuxChannel implements EdgeStream {
  readonly #link: MuxLink;
  readonly ch: number;
  readonly #highWaterMark: number;
  readonly #events: EdgeLinkEvents;
  /** A channel carries several frames per message, both ways (src/gateway-contract.ts). */
  readonly batched = true;
  readonly receivesBatches = true;
  #done = false;
  #paused = false;
  /**
   * Issue 11.4, as EdgeLink: one data message of this channel in flight; what the peer sends
   * meanwhile (or while the link is opening) goes as one message after it. Held frames count
   * toward the link's congestion.
   */
  readonly #batches = new HeldWhileInFlight(
    (message, done) => this.#link.send(muxData(this.ch, message), done),
    () => !this.#done && this.#link.isOpen,
    () => {},
    (delta) => (this.#link.heldChars += delta),
  );

  constructor(link: MuxLink, ch: number, highWaterMark: number, events: EdgeLinkEvents) {
    this.#link = link;
    this.ch = ch;
    this.#highWaterMark = highWaterMark;
    this.#events = events;
  }

  get open(): boolean {
    return !this.#done && this.#link.isOpen;
  }

  get congested(): boolean {
    return this.#link.pending > this.#highWaterMark;
  }

  /** Whether the link's WebSocket is not being read now (some channel of it asked for a pause). */
  get linkPaused(): boolean {
    return this.#link.readingPaused;
  }

  send(frame: string): boolean {
    return this.sendMany([frame]);
  }

  /** Data messages sent for this channel. */
  get messagesSent(): number {
    return this.#batches.messagesSent;
  }

  sendMany(frames: string[]): boolean {
    if (this.#done || frames.length === 0) return true;
    this.#batches.send(frames, !this.#link.isOpen);
    if (!this.congested) return true;
    this.#link.waitDrain(this);
    return false;
  }

  pause(): void {
    if (this.#done || this.#paused) return;
    this.#paused = true;
    this.#link.pauseOne();
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#link.resumeOne();
  }

  /** What was sent and held goes first, then {"op":"close"}; closed(undefined) follows. */
  close(_code?: number, _reason?: string): void {
    if (this.#done) return;
    this.#batches.release();
    this.#end();
  }

  /** Ends the channel now: what is held back is dropped. */
  terminate(): void {
    if (this.#done) return;
    this.#batches.drop();
    this.#end();
  }

  #end(): void {
    this.#link.send(muxControl({ op: "close", ch: this.ch }));
    this.#finish();
    this.#link.forgetChannel(this);
    // After the caller's turn, as a WebSocket's close event would come.
    setImmediate(() => this.#events.closed(undefined));
  }

  // ---- from the link

  /** The link opened: frames held while it was opening go now. */
  linkOpened(): void {
    if (!this.#done && !this.#batches.inFlight) this.#batches.release();
  }

  received(frames: string): void {
    if (!this.#done) this.#events.message(frames);
  }

  drained(): void {
    if (!this.#done) this.#events.drained();
  }

  /** The edge closed the channel (reason undefined) or the link was lost (reason says why). */
  ended(reason: string | undefined): void {
    if (this.#done) return;
    this.#finish();
    this.#events.closed(reason);
  }

  #finish(): void {
    this.#done = true;
    if (this.#paused) {
      this.#paused = false;
      this.#link.resumeOne();
    }
    this.#batches.drop();
  }
}
