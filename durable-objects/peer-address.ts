// One per client address (IPv4, or IPv6 /64: src/address-key.ts), in memory only: the unauthenticated
// direct WebSocket streams from that address (issue 10 item 3). /xmpp-s2s takes a slot here before
// it creates a StreamSession; the session gives it back when its first domain pair is verified or the
// stream ends. Beyond MAX_UNAUTHENTICATED_STREAMS_PER_IP the upgrade is refused with HTTP 429, like
// the gateway's per-address limit for TCP peers (the gateway's own link is not counted here: it
// carries many peers, each counted by the gateway). Slots expire on their own (SLOT_MS) so a session
// that died without saying so cannot hold one forever; after an eviction the counts start empty
// (fail open for a while, never closed).

import { DurableObject } from "cloudflare:workers";
import type { Env } from "./env.js";

/** Longer than an unauthenticated stream lives (negotiation, claims, the idle limit of 600 s). */
export const SLOT_MS = 15 * 60_000;

export class PeerAddress extends DurableObject<Env> {
  /** Stream id -> when its slot expires; insertion order is expiry order. */
  readonly #slots = new Map<string, number>();

  /** Takes a slot for `streamId` unless `max` are held. */
  async admit(streamId: string, max: number): Promise<boolean> {
    const now = Date.now();
    for (const [id, expires] of this.#slots) {
      if (expires > now) break;
      this.#slots.delete(id);
    }
    if (this.#slots.size >= max) return false;
    this.#slots.set(streamId, now + SLOT_MS);
    return true;
  }

  /** The stream authenticated or ended. Unknown ids are ignored. */
  async release(streamId: string): Promise<void> {
    this.#slots.delete(streamId);
  }

  /** Slots held (tests, diagnostics). */
  async held(): Promise<number> {
    return this.#slots.size;
  }
}
