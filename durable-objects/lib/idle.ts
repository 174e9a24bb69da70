// Idle limit for an inbound WebSocket stream (RFC 6120 §4.9.3.4 connection-timeout: the peer has
// generated no traffic for the configured time). Default 10 minutes, like the outbound idle close;
// S2S_IDLE_SECONDS overrides it (validated in src/config.ts). Cheap per message: the alarm is re-armed only when it fires, and
// the last-traffic time survives hibernation in a TrafficMark (the WebSocket's attachment; for a
// channel of a multiplexed link, a row of its stream), refreshed at most once a second (so after an
// eviction the limit may end up to a second early, never late).

export { DEFAULT_IDLE_SECONDS } from "../../src/config.js";
const PERSIST_EVERY_MS = 1000;

/** Where the last-traffic time survives hibernation. */
export interface TrafficMark {
  load(): number | undefined;
  save(at: number): void;
}

interface Attachment {
  lastTraffic?: number;
}

/** The mark of a stream alone on its WebSocket: the socket's attachment. */
export function attachmentMark(ws: WebSocket | undefined): TrafficMark {
  return {
    load: () => (ws?.deserializeAttachment() as Attachment | null)?.lastTraffic,
    save: (at) => ws?.serializeAttachment({ lastTraffic: at } satisfies Attachment),
  };
}

export class IdleClock {
  #last: number;
  #persisted: number;
  /** When the idle check is next due (part of the DO alarm). */
  due: number;

  constructor(readonly limitMs: number, private readonly mark: TrafficMark, now: number) {
    const saved = mark.load();
    this.#last = this.#persisted = saved ?? now;
    this.due = this.#last + limitMs;
  }

  /** The peer sent something. */
  traffic(now: number): void {
    this.#last = now;
    if (now - this.#persisted >= PERSIST_EVERY_MS) {
      this.#persisted = now;
      this.mark.save(now);
    }
  }

  /** At the alarm: true when the limit passed; otherwise moves `due` to the new limit. */
  expired(now: number): boolean {
    if (now >= this.#last + this.limitMs) return true;
    this.due = this.#last + this.limitMs;
    return false;
  }
}
