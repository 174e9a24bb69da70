// The transport of one stream on a multiplexed gateway link (src/gateway-contract.ts): its data goes
// as "<ch> <frames>" messages on the link's WebSocket, its end as a {"op":"close"} control message.
// The idle clock's mark lives in the stream's own rows (the link's WebSocket attachment is shared).

import { muxControl, muxData } from "../../src/gateway-contract.js";
import type { StreamPort } from "./inbound-stream.js";
import type { PrefixedStore } from "./store.js";

/** Text per data message at most (UTF-16 units): well under a WebSocket message's 1 MiB. */
const MAX_MESSAGE = 256 * 1024;

/** A channel's transport: data and close messages on the link's WebSocket. */
export class ChannelPort implements StreamPort {
  /** The gateway closed the channel (or the link is gone). */
  gone = false;
  #closed = false;
  #pending: string[] = [];
  #size = 0;
  readonly traffic;

  constructor(
    readonly ch: number,
    private readonly ws: WebSocket | undefined,
    store: PrefixedStore,
  ) {
    this.traffic = { load: () => store.get<number>("traffic", true), save: (at: number) => store.putJson("traffic", at) };
  }

  get open(): boolean {
    return !this.gone && !this.#closed && this.ws?.readyState === WebSocket.OPEN;
  }

  // What one engine step writes (a stream header and its features; db:result and the stanzas queued
  // behind it) goes as one "<ch> <frames>" message: a channel's messages may hold several frames
  // (src/gateway-contract.ts), and each message costs a WebSocket event on both sides (issue 11).
  // Sent by flush() (the stream's host calls it after a step, before saving its state: a message
  // sent after a storage write would wait for the commit), else at the end of the current turn; a
  // message stays under MAX_MESSAGE of text.
  send(text: string): void {
    if (!this.open) return;
    if (this.#size > 0 && this.#size + text.length > MAX_MESSAGE) this.flush();
    this.#pending.push(text);
    this.#size += text.length;
    if (this.#pending.length === 1) queueMicrotask(() => this.flush());
  }

  flush(): void {
    if (this.#pending.length === 0) return;
    const text = this.#pending.join("");
    this.#pending = [];
    this.#size = 0;
    if (this.open) this.ws!.send(muxData(this.ch, text));
  }

  close(): void {
    this.flush();
    if (this.#closed) return;
    this.#closed = true;
    if (this.gone || this.ws?.readyState !== WebSocket.OPEN) return;
    try {
      this.ws.send(muxControl({ op: "close", ch: this.ch }));
    } catch {
      // the link is going
    }
  }
}
