// One report()/reportMany() call of the sessions, applied as its final effect instead of call by call.
// Sessions report each step of a stream (opened, a pair pending, the pair valid, a verdict's metrics),
// and the ControlPlane is one Durable Object for the whole edge: every statement it runs per pair is
// paid once per pair edge-wide, in series. Counted in the 200-domain fan-out (issue 11): 10 SQLite
// statements per pair, 4 of them bumps of the same few metric series. Here a batch sums its metric
// bumps per series (one upsert per series), and keeps one upsert per session row and per pair row
// (the last report wins, as the upserts replace the row). Deletes (sessionClosed, pairRemoved) run
// in their place and drop what the batch still held for those rows, so the index ends exactly as if
// the calls had run one by one. Audit entries and peer attempts go through at once (their own
// tables, append-only).

import type { MetricEvent, PairKey, PairReport, SessionInfo } from "../lib/session-rpc.js";
import type { SessionIndex } from "./index-store.js";
import { MetricSums, type Metrics } from "./metrics.js";

/** What the batch hands on unchanged: the ControlPlane's own methods for them. */
export interface ReportSink {
  sessionClosed(id: string, condition?: string): Promise<void>;
  pairRemoved(sessionId: string, pair: PairKey): Promise<void>;
}

const pairKey = (sessionId: string, p: PairKey) => `${sessionId}\n${p.local}\n${p.remote}\n${p.direction}`;

export class ReportBatch {
  readonly #sessions = new Map<string, SessionInfo>();
  readonly #pairs = new Map<string, [sessionId: string, pair: PairReport]>();
  readonly #sums = new MetricSums();

  constructor(
    private readonly index: SessionIndex,
    private readonly metrics: Metrics,
    private readonly sink: ReportSink,
  ) {}

  reportSession(info: SessionInfo): void {
    // Re-inserted last: a Map keeps first-insertion order, and the flush should follow the calls.
    this.#sessions.delete(info.id);
    this.#sessions.set(info.id, info);
  }

  reportPair(sessionId: string, pair: PairReport): void {
    const k = pairKey(sessionId, pair);
    this.#pairs.delete(k);
    this.#pairs.set(k, [sessionId, pair]);
  }

  observe(events: MetricEvent[]): void {
    this.#sums.add(events);
  }

  async sessionClosed(id: string, condition?: string): Promise<void> {
    this.#sessions.delete(id);
    for (const [k, [sessionId]] of this.#pairs) if (sessionId === id) this.#pairs.delete(k);
    await this.sink.sessionClosed(id, condition);
  }

  async pairRemoved(sessionId: string, pair: PairKey): Promise<void> {
    this.#pairs.delete(pairKey(sessionId, pair));
    await this.sink.pairRemoved(sessionId, pair);
  }

  /** Writes what the batch held: one upsert per session and pair row, one per metric series. */
  flush(): void {
    for (const info of this.#sessions.values()) this.index.upsertSession(info);
    for (const [sessionId, pair] of this.#pairs.values()) this.index.upsertPair(sessionId, pair);
    this.metrics.apply(this.#sums);
    this.#sessions.clear();
    this.#pairs.clear();
  }
}
