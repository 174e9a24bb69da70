// Idle limit for an inbound WebSocket stream (RFC 6120 §4.9.3.4 connection-timeout: the peer has
// generated no traffic for the configured time). Default 10 minutes, like the outbound idle close;
// S2S_IDLE_SECONDS overrides it (validated in src/config.ts). Cheap per message: the alarm is re-armed only when it fires, and
// the last-traffic time survives hibernation in the WebSocket's attachment, refreshed at most once
// a second (so after an eviction the limit may end up to a second early, never late).

export { DEFAULT_IDLE_SECONDS } from "../../src/config.js";
const PERSIST_EVERY_MS = 1000;

interface Attachment {
  lastTraffic?: number;
}

export class IdleClock {
  #last: number;
  #persisted: number;
  /** When the idle check is next due (part of the DO alarm). */
  due: number;

  constructor(readonly limitMs: number, private readonly ws: WebSocket | undefined, now: number) {
    const saved = (ws?.deserializeAttachment() as Attachment | null)?.lastTraffic;
    this.#last = this.#persisted = saved ?? now;
    this.due = this.#last + limitMs;
  }

  /** The peer sent something. */
  traffic(now: number): void {
    this.#last = now;
    if (now - this.#persisted >= PERSIST_EVERY_MS) {
      this.#persisted = now;
      this.ws?.serializeAttachment({ lastTraffic: now } satisfies Attachment);
    }
  }

  /** At the alarm: true when the limit passed; otherwise moves `due` to the new limit. */
  expired(now: number): boolean {
    if (now >= this.#last + this.limitMs) return true;
    this.due = this.#last + this.limitMs;
    return false;
  }
}
