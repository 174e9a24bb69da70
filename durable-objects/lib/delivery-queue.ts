// Stanzas for the operator's application (verified inbound stanzas, and error replies for stanzas our
// application sent), persisted in the session's SQLite before anything else happens to them, so
// an eviction or crash between accepting a stanza and the application taking it loses nothing
// (issue 4: an accepted stanza is delivered or bounced to its sender).
//
// - accept() collects the stanza; persist() writes everything collected as ONE row (a JSON array of
//   AppStanza). The session calls persist() at the end of each WebSocket message, so a batch from
//   the gateway costs one INSERT, and it is written in the same event that read it (a timer catches
//   any caller that does not call persist() itself). Writes of one event are committed together.
// - Delivery runs in batches, one at a time, in acceptance order (RFC 6120 §10.1 in-order
//   processing); rows are deleted only after the application took them (and their replies were
//   handed on), or after the bounce for a final failure was handed on.
// - While rows remain an alarm is due (`due`), merged into the session's one alarm; after a restart
//   the DO delivers what is left (resume(), and again at the alarm).
//
// At-least-once: a crash after the application took a batch but before its rows were deleted makes
// the batch be delivered again after the restart, so the application may see a stanza twice (it can
// de-duplicate by the stanza's id and from; the local app does, by caller and row). Never zero times.

import type { Element } from "ltx";
import { undeliverable } from "../../src/delivery/bounce.js";
import { appStanzaElement, appStanzaFromXml, toAppStanza, type AppStanza } from "../../src/delivery/app-stanza.js";

/**
 * Stanzas per delivery call, at least (whole rows are taken; one LocalApp RPC carries a batch): under
 * load several WebSocket messages' rows share one call, one LocalApp commit and one DELETE.
 */
export const BATCH = 1000;
/** Failed delivery calls (thrown, e.g. the LocalApp DO unreachable) before the stanza is bounced. */
export const MAX_ATTEMPTS = 5;
/** While rows are waiting, the alarm comes back this soon (covers an eviction mid-delivery). */
export const SAFETY_MS = 10_000;
const backoffMs = (attempts: number) => Math.min(1000 * 2 ** attempts, 60_000);

/**
 * Delivers one batch; per stanza, in order, what goes back to the remote sender (the application's
 * replies, or a bounce for a stanza it finally refused). Throwing means "try the batch again later".
 */
export type DeliverBatch = (stanzas: AppStanza[], source: string) => Promise<Element[][]>;

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
  /** A JSON array of AppStanza; a row from before batching holds one serialized stanza. */
  xml: string;
  attempts: number;
};

function rowStanzas(r: Row): AppStanza[] {
  const stanzas = r.xml.startsWith("[") ? (JSON.parse(r.xml) as AppStanza[]) : [appStanzaFromXml(r.xml)];
  for (const s of stanzas) s.row = r.seq;
  return stanzas;
}

export class DeliveryQueue {
  #running: Promise<void> | undefined;
  #scheduled = false;
  #pending: AppStanza[] = [];
  #persistTimer = false;
  /** When the alarm should come back for this queue; set while rows may remain, cleared at the alarm. */
  due: number | undefined;
  /**
   * Names this queue to the application (with each stanza's row): random, made with the queue's
   * storage, so rows numbered again after a storage reset can never pass for ones already delivered.
   */
  readonly source: string;

  constructor(private readonly sql: SqlStorage, private readonly hooks: QueueHooks) {
    sql.exec(`CREATE TABLE IF NOT EXISTS app_queue (seq INTEGER PRIMARY KEY AUTOINCREMENT, xml TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0)`);
    sql.exec("CREATE TABLE IF NOT EXISTS app_queue_source (id TEXT NOT NULL)");
    const known = sql.exec<{ id: string }>("SELECT id FROM app_queue_source").toArray()[0]?.id;
    this.source = known ?? crypto.randomUUID();
    if (!known) sql.exec("INSERT INTO app_queue_source (id) VALUES (?)", this.source);
  }

  /** Takes `stanza` for the application; it is persisted by persist() (at the latest on a timer of 0). */
  accept(stanza: Element): void {
    this.#pending.push(toAppStanza(stanza));
    if (!this.#persistTimer) {
      this.#persistTimer = true;
      setTimeout(() => this.persist(), 0);
    }
  }

  /** Writes what accept() collected as one row and schedules delivery. */
  persist(): void {
    this.#persistTimer = false;
    if (this.#pending.length === 0) return;
    const stanzas = this.#pending;
    this.#pending = [];
    this.sql.exec("INSERT INTO app_queue (xml) VALUES (?)", JSON.stringify(stanzas));
    // The safety alarm is set once per busy period, not per stanza: it only moves when it fires.
    if (this.due === undefined) {
      this.due = this.hooks.now() + SAFETY_MS;
      this.hooks.rearm();
    }
    this.#schedule();
  }

  /** Stanzas waiting (persisted or about to be). */
  size(): number {
    const rows = this.sql
      .exec<{ n: number | null }>("SELECT SUM(CASE WHEN xml LIKE '[%' THEN json_array_length(xml) ELSE 1 END) AS n FROM app_queue")
      .one().n;
    return (rows ?? 0) + this.#pending.length;
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

  // Rows persisted in one burst (several WebSocket messages) share a batch.
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
    this.persist();
    this.#running ??= this.#drain().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #drain(): Promise<void> {
    for (;;) {
      const { rows, stanzas } = this.#nextBatch();
      // Drained: `due` stays where it is (the alarm fires once, finds nothing, and is re-armed for
      // the session's own deadlines), so a busy stream does not move the alarm twice per batch.
      if (rows.length === 0) return;
      let back: Element[][];
      try {
        back = await this.hooks.deliver(stanzas, this.source);
      } catch (err) {
        console.warn(`delivery to the application failed; kept for retry: ${(err as Error)?.message ?? String(err)}`);
        await this.#failed(rows, stanzas, err);
        return;
      }
      await Promise.all(back.flat().map((s) => this.hooks.reply(s)));
      this.#remove(rows);
    }
  }

  /** The oldest rows, whole, until BATCH stanzas (at least one row), all with the same attempt count. */
  #nextBatch(): { rows: Row[]; stanzas: AppStanza[] } {
    const rows: Row[] = [];
    const stanzas: AppStanza[] = [];
    for (const row of this.sql.exec<Row>("SELECT seq, xml, attempts FROM app_queue ORDER BY seq LIMIT ?", BATCH)) {
      if (stanzas.length >= BATCH || (rows.length > 0 && row.attempts !== rows[0]!.attempts)) break;
      rows.push(row);
      for (const s of rowStanzas(row)) stanzas.push(s);
    }
    return { rows, stanzas };
  }

  // A thrown delivery call: the batch stays; after MAX_ATTEMPTS its stanzas are bounced with
  // service-unavailable (RFC 6120 §8.3.3.19) and removed.
  async #failed(rows: Row[], stanzas: AppStanza[], err: unknown): Promise<void> {
    const attempts = rows[0]!.attempts + 1;
    if (attempts < MAX_ATTEMPTS) {
      this.sql.exec("UPDATE app_queue SET attempts = ? WHERE seq BETWEEN ? AND ?", attempts, rows[0]!.seq, rows.at(-1)!.seq);
      this.due = this.hooks.now() + backoffMs(attempts);
      this.hooks.rearm();
      return;
    }
    const reason = `the application could not be reached (${(err as Error)?.message ?? String(err)})`;
    const bounces = stanzas.map((s) => undeliverable(appStanzaElement(s), reason)).filter((b): b is Element => b !== undefined);
    await Promise.all(bounces.map((b) => this.hooks.reply(b)));
    this.#remove(rows);
    this.#schedule(); // the rest of the queue gets its own attempts
  }

  #remove(rows: Row[]): void {
    this.sql.exec("DELETE FROM app_queue WHERE seq BETWEEN ? AND ?", rows[0]!.seq, rows.at(-1)!.seq);
  }
}
