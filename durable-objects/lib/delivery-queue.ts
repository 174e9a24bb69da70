// Stanzas for the operator's application (verified inbound stanzas, and error replies for stanzas our
// application sent), persisted in the StreamSession's SQLite before anything else happens to them, so
// an eviction or crash between accepting a stanza and the application taking it loses nothing
// (issue 4: an accepted stanza is delivered or bounced to its sender).
//
// - accept(): one INSERT in the turn the engine accepted the stanza. Writes within one event are
//   coalesced by the output gate, so a burst costs no extra round trip per stanza.
// - Delivery runs in batches, one at a time, in acceptance order (RFC 6120 §10.1 in-order
//   processing); rows are deleted only after the application took them (and their replies were
//   handed on), or after the bounce for a final failure was handed on.
// - While rows remain an alarm is due (`due`), merged into the session's one alarm; after a restart
//   the DO delivers what is left (resume(), and again at the alarm).
//
// At-least-once: a crash after the application took a batch but before its rows were deleted makes
// the batch be delivered again after the restart, so the application may see a stanza twice (it can
// de-duplicate by the stanza's id and from). Never zero times.

import { parse, type Element } from "ltx";
import { undeliverable } from "../../src/delivery/bounce.js";

/** Stanzas per delivery call (one LocalApp RPC carries a whole batch). */
export const BATCH = 100;
/** Failed delivery calls (thrown, e.g. the LocalApp DO unreachable) before the stanza is bounced. */
export const MAX_ATTEMPTS = 5;
/** While rows are waiting, the alarm comes back this soon (covers an eviction mid-delivery). */
export const SAFETY_MS = 10_000;
const backoffMs = (attempts: number) => Math.min(1000 * 2 ** attempts, 60_000);

/**
 * Delivers one batch; per stanza, in order, what goes back to the remote sender (the application's
 * replies, or a bounce for a stanza it finally refused). Throwing means "try the batch again later".
 */
export type DeliverBatch = (stanzas: Element[]) => Promise<Element[][]>;

export interface QueueHooks {
  deliver: DeliverBatch;
  /** Sends a stanza back toward the remote side; resolves once it is handed on (persisted there). */
  reply(stanza: Element): Promise<unknown> | void;
  /** `due` changed: re-arm the DO's alarm. */
  rearm(): void;
  now(): number;
}

type Row = {
  seq: number;
  xml: string;
  attempts: number;
};

export class DeliveryQueue {
  #running: Promise<void> | undefined;
  #scheduled = false;
  /** When the alarm should come back for this queue; set while rows may remain, cleared at the alarm. */
  due: number | undefined;

  constructor(private readonly sql: SqlStorage, private readonly hooks: QueueHooks) {
    sql.exec(`CREATE TABLE IF NOT EXISTS app_queue (seq INTEGER PRIMARY KEY AUTOINCREMENT, xml TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0)`);
  }

  /** Persists `stanza` (synchronously, in the caller's turn) and schedules delivery. */
  accept(stanza: Element): void {
    this.sql.exec("INSERT INTO app_queue (xml) VALUES (?)", stanza.toString());
    // The safety alarm is set once per busy period, not per stanza: it only moves when it fires.
    if (this.due === undefined) {
      this.due = this.hooks.now() + SAFETY_MS;
      this.hooks.rearm();
    }
    this.#schedule();
  }

  size(): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM app_queue").one().n;
  }

  /** After a restart: deliver what the previous instance left. */
  resume(): void {
    if (this.size() === 0) return;
    this.due ??= this.hooks.now() + SAFETY_MS;
    this.hooks.rearm();
    this.#schedule();
  }

  /** At the alarm: deliver what is left; resolves when the queue is drained or a call failed. */
  async alarm(): Promise<void> {
    this.due = undefined;
    if (this.size() > 0) this.due = this.hooks.now() + SAFETY_MS;
    await this.flush();
    this.hooks.rearm();
  }

  // Stanzas accepted in one burst (several inputs of one WebSocket message) share a batch.
  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setTimeout(() => {
      this.#scheduled = false;
      void this.flush();
    }, 0);
  }

  /** Delivers batches until the queue is empty or a delivery call failed. One run at a time. */
  flush(): Promise<void> {
    this.#running ??= this.#drain().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #drain(): Promise<void> {
    for (;;) {
      const rows = this.sql.exec<Row>("SELECT seq, xml, attempts FROM app_queue ORDER BY seq LIMIT ?", BATCH).toArray();
      // Drained: `due` stays where it is (the alarm fires once, finds nothing, and is re-armed for
      // the session's own deadlines), so a busy stream does not move the alarm twice per batch.
      if (rows.length === 0) return;
      const stanzas = rows.map((r) => parse(r.xml) as Element);
      let back: Element[][];
      try {
        back = await this.hooks.deliver(stanzas);
      } catch (err) {
        console.warn(`delivery to the application failed; kept for retry: ${(err as Error)?.message ?? String(err)}`);
        await this.#failed(rows, stanzas, err);
        return;
      }
      await Promise.all(back.flat().map((s) => this.hooks.reply(s)));
      this.#remove(rows);
    }
  }

  // A thrown delivery call: the batch stays; after MAX_ATTEMPTS its stanzas are bounced with
  // service-unavailable (RFC 6120 §8.3.3.19) and removed.
  async #failed(rows: Row[], stanzas: Element[], err: unknown): Promise<void> {
    const attempts = rows[0]!.attempts + 1;
    if (attempts < MAX_ATTEMPTS) {
      this.sql.exec("UPDATE app_queue SET attempts = ? WHERE seq BETWEEN ? AND ?", attempts, rows[0]!.seq, rows.at(-1)!.seq);
      this.due = this.hooks.now() + backoffMs(attempts);
      this.hooks.rearm();
      return;
    }
    const reason = `the application could not be reached (${(err as Error)?.message ?? String(err)})`;
    const bounces = stanzas.map((s) => undeliverable(s, reason)).filter((b): b is Element => b !== undefined);
    await Promise.all(bounces.map((b) => this.hooks.reply(b)));
    this.#remove(rows);
    this.#schedule(); // the rest of the queue gets its own attempts
  }

  #remove(rows: Row[]): void {
    this.sql.exec("DELETE FROM app_queue WHERE seq BETWEEN ? AND ?", rows[0]!.seq, rows.at(-1)!.seq);
  }
}
