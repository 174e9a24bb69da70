// Per-stream domain pair tables (XEP-0220 §3 multiplexing) and the deadline queues that drive
// timeouts. Lookups are one Map access keyed "remote local" (inbound) or "local remote" (outbound);
// a verified pair costs one small record, so 10,000 pairs on a stream stay well under 1 KiB each.

import type { Element } from "ltx";
import type { DialbackCondition } from "./elements.js";
import type { Domain } from "../types.js";
import type { FederationLevel } from "../engine/ports.js";

/** Key of a pair: the two domains joined by a space, which no domain can contain (XEP-0185 §3). */
export const pairKey = (first: Domain, second: Domain): string => `${first} ${second}`;

export function splitPairKey(key: string): [Domain, Domain] {
  const i = key.indexOf(" ");
  return [key.slice(0, i) as Domain, key.slice(i + 1) as Domain];
}

/**
 * Receiving role: a pair the peer asks to use (sender = remote, target = local). Keyed by
 * pairKey(remote, local). Failed pairs are removed, so a failed pair and "none" look the same.
 */
export type InboundPair =
  /** `key`: the peer's dialback key, kept so a restored stream can ask the authority again. */
  | { state: "pending"; handle: number; deadline: number; key: string }
  | { state: "valid"; level: FederationLevel };

// A verified pair holds nothing but its level, so all verified pairs of a level share one frozen
// record: the per-pair cost is the Map entry and its key string.
const VALID_IN: Record<FederationLevel, InboundPair> = {
  verified: Object.freeze({ state: "valid", level: "verified" }),
  encrypted: Object.freeze({ state: "valid", level: "encrypted" }),
  trusted: Object.freeze({ state: "valid", level: "trusted" }),
};
export const validInbound = (level: FederationLevel): InboundPair => VALID_IN[level];

/**
 * The inbound pair table, remembering which keys changed since `takeChanges()` was last called, so
 * a shell can persist the pairs one row each (durable-objects/lib/session-host.ts) instead of
 * serialising every pair after every change: with n pending claims that was O(n) per claim, O(n^2)
 * per stream (issue 10 item 4). Before the first call every key counts as changed.
 */
export class InboundPairs extends Map<string, InboundPair> {
  #changed: Set<string> | undefined;

  override set(key: string, rec: InboundPair): this {
    this.#changed?.add(key);
    return super.set(key, rec);
  }

  override delete(key: string): boolean {
    this.#changed?.add(key);
    return super.delete(key);
  }

  override clear(): void {
    for (const k of this.keys()) this.#changed?.add(k);
    super.clear();
  }

  /** Keys set or deleted since the last call (all keys at the first call); tracking starts then. */
  takeChanges(): string[] {
    const out = this.#changed ? [...this.#changed] : [...this.keys()];
    this.#changed = new Set();
    return out;
  }
}

/**
 * Originating role: a pair we authenticate (sender = local, target = remote). Keyed by
 * pairKey(local, remote). `queue` holds stanzas waiting for type='valid' (XEP-0220 §2.1.1).
 */
export type OutboundPair =
  | { state: "keying"; handle: number; queue: Element[] }
  | { state: "pending"; deadline: number; queue: Element[] }
  | { readonly state: "valid"; readonly level: FederationLevel }
  | { state: "failed"; condition: DialbackCondition };

const VALID_OUT: Record<FederationLevel, OutboundPair> = {
  verified: Object.freeze({ state: "valid", level: "verified" }),
  encrypted: Object.freeze({ state: "valid", level: "encrypted" }),
  trusted: Object.freeze({ state: "valid", level: "trusted" }),
};
export const validOutbound = (level: FederationLevel): OutboundPair => VALID_OUT[level];

/**
 * The outbound pair table, counting its live pairs (keying, pending or valid; failed records stay
 * for their bounce condition but carry nothing) so the per-stream pair cap is an O(1) check.
 */
export class OutboundPairs extends Map<string, OutboundPair> {
  #live = 0;

  get live(): number {
    return this.#live;
  }

  override set(key: string, rec: OutboundPair): this {
    const before = super.get(key);
    if (before !== undefined && before.state !== "failed") this.#live--;
    if (rec.state !== "failed") this.#live++;
    return super.set(key, rec);
  }

  override delete(key: string): boolean {
    const before = super.get(key);
    if (before !== undefined && before.state !== "failed") this.#live--;
    return super.delete(key);
  }

  override clear(): void {
    this.#live = 0;
    super.clear();
  }
}

/** One db:verify we sent on this stream towards an Authoritative Server (XEP-0220 §2.1.2). */
export interface OutstandingVerify {
  handle: number;
  from: Domain;
  to: Domain;
  id: string;
  key: string;
  /** False while the stream is still negotiating: sent once it opens. */
  sent: boolean;
  deadline: number;
}

/** Lookup key of a db:verify: its request attributes (the response has from/to swapped). */
export const verifyKey = (from: string, to: string, id: string): string => `${from} ${to} ${id}`;

/**
 * A FIFO of (deadline, id) entries. Every deadline of one kind is `now + constant`, so entries come
 * in deadline order as long as time does not run backwards; stale entries (the record moved on) are
 * skipped lazily. This keeps `pollTimeout()` O(1) amortised with 10,000 pending pairs.
 */
export class DeadlineQueue<T> {
  #items: { at: number; ref: T }[] = [];
  #head = 0;

  push(at: number, ref: T): void {
    this.#items.push({ at, ref });
  }

  /** The earliest entry still `live`, dropping stale ones. */
  peek(live: (ref: T, at: number) => boolean): number | undefined {
    while (this.#head < this.#items.length) {
      const it = this.#items[this.#head]!;
      if (live(it.ref, it.at)) return it.at;
      this.#head++;
    }
    this.#compact();
    return undefined;
  }

  /** Removes and returns every live entry due at `now`. */
  takeDue(now: number, live: (ref: T, at: number) => boolean): T[] {
    const due: T[] = [];
    while (this.#head < this.#items.length) {
      const it = this.#items[this.#head]!;
      if (!live(it.ref, it.at)) {
        this.#head++;
        continue;
      }
      if (it.at > now) break;
      due.push(it.ref);
      this.#head++;
    }
    this.#compact();
    return due;
  }

  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}
