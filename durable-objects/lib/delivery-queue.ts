// Stanzas for the operator's application (verified inbound stanzas, and error replies for stanzas our
// application sent), persisted in the session's SQLite before the application sees them, so an
// eviction or crash between committing a stanza and the application taking it loses nothing
// (issue 4: a committed stanza is delivered or bounced to its sender).
//
// - Group commit (issue 11.4): accept() collects the stanza in memory; a commit writes everything
//   collected since the last one as ONE row (a JSON array of AppStanza) and, in the same write, deletes
//   the rows delivered since. After a quiet period the first commit happens at once (the session calls
//   persist() at the end of each WebSocket message); then commits are at most one per `windowMs`
//   (DELIVERY_COMMIT_WINDOW_MS): what arrives inside the window waits for its end. So a stanza read
//   from the peer is committed at most `windowMs` (plus the event that read it) after it was read. Until
//   then it is in memory only, which is where any XMPP server holds a stanza it has read: S2S has no
//   acknowledgements (RFC 6120 §8: a server that crashes loses what it had not handed on), and the sender
//   learns nothing either way. Writes of one event are committed together (one SQLite commit).
// - Delivery runs in batches, one at a time, in acceptance order (RFC 6120 §10.1 in-order
//   processing), right after a commit: one call per window under load, not one per WebSocket message.
//   Rows go once the application took them (and their replies were handed on), or once the bounce for
//   a final failure was handed on; the DELETE rides on the next commit.
// - While rows remain an alarm is due (`due`), merged into the session's one alarm; after a restart
//   the DO delivers what is left (resume(), and again at the alarm).
//
// At-least-once: a crash after the application took a batch but before its rows were deleted makes
// the batch be delivered again after the restart, so the application may see a stanza twice (it can
// de-duplicate by the stanza's id and from; the local app does, by caller and row). Never zero times.

import { log, type LogSettings } from "./log.js";
import { errorMessage } from "../../src/log/format.js";
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
/** Default commit window (DELIVERY_COMMIT_WINDOW_MS): at most one commit per this many ms per queue. */
export const DEFAULT_COMMIT_WINDOW_MS = 100;
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
  /** LOG_LEVEL for this queue's log lines (lib/log.ts). */
  env?: LogSettings;
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
  /** A commit is scheduled (at the end of the open window). */
  #commitTimer = false;
  /** No commit before this time (the window opened by the last one). */
  #holdUntil = 0;
  /** Rows up to this seq were delivered; their DELETE goes with the next commit. */
  #deliveredUpTo = 0;
  /** Rows up to this seq are deleted (or were never there). */
  #deletedUpTo = 0;
  /** When the alarm should come back for this queue; set while rows may remain, cleared at the alarm. */
  due: number | undefined;
  /**
   * Names this queue to the application (with each stanza's row): random, made with the queue's
   * storage, so rows numbered again after a storage reset can never pass for ones already delivered.
   */
  readonly source: string;

  constructor(
    private readonly sql: SqlStorage,
    private readonly hooks: QueueHooks,
    /** Set from DELIVERY_COMMIT_WINDOW_MS once the configuration is read. */
    public windowMs = DEFAULT_COMMIT_WINDOW_MS,
  ) {
    sql.exec(`CREATE TABLE IF NOT EXISTS app_queue (seq INTEGER PRIMARY KEY AUTOINCREMENT, xml TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0)`);
    sql.exec("CREATE TABLE IF NOT EXISTS app_queue_source (id TEXT NOT NULL)");
    const known = sql.exec<{ id: string }>("SELECT id FROM app_queue_source").toArray()[0]?.id;
    this.source = known ?? crypto.randomUUID();
    if (!known) sql.exec("INSERT INTO app_queue_source (id) VALUES (?)", this.source);
  }

  /** Takes `stanza` for the application; committed by the next commit (at the latest at the window's end). */
  accept(stanza: Element): void {
    this.#pending.push(toAppStanza(stanza));
    this.#commitSoon();
  }

  /**
   * Commits what accept() collected (and the DELETE of rows delivered since the last commit) unless a
   * window is open; then the commit happens at the window's end.
   */
  persist(): void {
    const now = this.hooks.now();
    if (now < this.#holdUntil) return this.#commitSoon();
    this.#commit(now);
  }

  #commitSoon(): void {
    if (this.#commitTimer) return;
    this.#commitTimer = true;
    setTimeout(() => {
      this.#commitTimer = false;
      this.persist();
    }, Math.max(0, this.#holdUntil - this.hooks.now()));
  }

  #commit(now: number): void {
    const deletes = this.#deliveredUpTo > this.#deletedUpTo;
    if (this.#pending.length === 0 && !deletes) return;
    if (deletes) {
      this.sql.exec("DELETE FROM app_queue WHERE seq <= ?", this.#deliveredUpTo);
      this.#deletedUpTo = this.#deliveredUpTo;
    }
    this.#holdUntil = now + this.windowMs;
    if (this.#pending.length === 0) return;
    const stanzas = this.#pending;
    this.#pending = [];
    this.sql.exec("INSERT INTO app_queue (xml) VALUES (?)", JSON.stringify(stanzas));
    // The safety alarm is set once per busy period, not per stanza: it only moves when it fires.
    if (this.due === undefined) {
      this.due = now + SAFETY_MS;
      this.hooks.rearm();
    }
    this.#schedule();
  }

  /** Stanzas waiting (persisted or about to be). */
  size(): number {
    const rows = this.sql
      .exec<{ n: number | null }>("SELECT SUM(CASE WHEN xml LIKE '[%' THEN json_array_length(xml) ELSE 1 END) AS n FROM app_queue WHERE seq > ?", this.#deliveredUpTo)
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
      void this.#deliver();
    }, 0);
  }

  /** Commits now (whatever the window) and delivers until the queue is empty or a call failed. One run at a time. */
  flush(): Promise<void> {
    this.#commit(this.hooks.now());
    return this.#deliver();
  }

  /** Delivers what is committed (one run at a time). */
  #deliver(): Promise<void> {
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
        log(this.hooks.env, "warn", "delivery.failed", { source: this.source, stanzas: stanzas.length, error: err, outcome: "kept for retry" });
        await this.#failed(rows, stanzas, err);
        return;
      }
      await Promise.all(back.flat().map((s) => this.hooks.reply(s)));
      this.#delivered(rows);
    }
  }

  /** The oldest rows, whole, until BATCH stanzas (at least one row), all with the same attempt count. */
  #nextBatch(): { rows: Row[]; stanzas: AppStanza[] } {
    const rows: Row[] = [];
    const stanzas: AppStanza[] = [];
    for (const row of this.sql.exec<Row>("SELECT seq, xml, attempts FROM app_queue WHERE seq > ? ORDER BY seq LIMIT ?", this.#deliveredUpTo, BATCH)) {
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
    const reason = `the application could not be reached (${errorMessage(err)})`;
    log(this.hooks.env, "warn", "delivery.failed", { source: this.source, stanzas: stanzas.length, attempts, error: err, outcome: "bounced with service-unavailable" });
    const bounces = stanzas.map((s) => undeliverable(appStanzaElement(s), reason)).filter((b): b is Element => b !== undefined);
    await Promise.all(bounces.map((b) => this.hooks.reply(b)));
    this.#delivered(rows);
    this.#schedule(); // the rest of the queue gets its own attempts
  }

  // Done with these rows (the oldest ones): deleted by the next commit, skipped until then.
  #delivered(rows: Row[]): void {
    this.#deliveredUpTo = rows.at(-1)!.seq;
    this.#commitSoon();
  }
}
