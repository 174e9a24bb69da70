// Stanzas waiting for an authenticated domain pair, persisted in the DO's SQLite so they survive
// eviction and restarts (issue 4: "queued stanzas are persisted until sent or bounced").

export interface Queued {
  seq: number;
  local: string;
  xml: string;
  enqueuedAt: number;
}

export class Outbox {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(`CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, local TEXT NOT NULL,
      xml TEXT NOT NULL, enqueued_at INTEGER NOT NULL)`);
    sql.exec("CREATE INDEX IF NOT EXISTS outbox_local ON outbox (local, seq)");
  }

  add(local: string, xml: string, now: number): number {
    return this.sql.exec<{ seq: number }>("INSERT INTO outbox (local, xml, enqueued_at) VALUES (?, ?, ?) RETURNING seq", local, xml, now).one().seq;
  }

  /** Oldest first, for one local (sending) domain, or all. */
  list(local?: string, limit = 1000): Queued[] {
    const rows = local === undefined
      ? this.sql.exec<{ seq: number; local: string; xml: string; enqueued_at: number }>("SELECT * FROM outbox ORDER BY seq LIMIT ?", limit)
      : this.sql.exec<{ seq: number; local: string; xml: string; enqueued_at: number }>("SELECT * FROM outbox WHERE local = ? ORDER BY seq LIMIT ?", local, limit);
    return rows.toArray().map((r) => ({ seq: r.seq, local: r.local, xml: r.xml, enqueuedAt: r.enqueued_at }));
  }

  locals(): string[] {
    return this.sql.exec<{ local: string }>("SELECT DISTINCT local FROM outbox").toArray().map((r) => r.local);
  }

  remove(seq: number): void {
    this.sql.exec("DELETE FROM outbox WHERE seq = ?", seq);
  }

  size(): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox").one().n;
  }
}
