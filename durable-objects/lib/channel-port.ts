// The transport of one stream on a multiplexed gateway link (src/gateway-contract.ts): its data goes
// as "<ch> <frames>" messages on the link's WebSocket, its end as a {"op":"close"} control message.
// The idle clock's mark lives in the stream's own rows (the link's WebSocket attachment is shared).

import { muxControl, muxData } from "../../src/gateway-contract.js";
import type { StreamPort } from "./inbound-stream.js";
import type { PrefixedStore } from "./store.js";

/** A channel's transport: data and close messages on the link's WebSocket. */
export class ChannelPort implements StreamPort {
  /** The gateway closed the channel (or the link is gone). */
  gone = false;
  #closed = false;
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

  send(text: string): void {
    if (this.open) this.ws!.send(muxData(this.ch, text));
  }

  close(): void {
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
