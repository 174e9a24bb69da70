// The audit log: append-only, newest first when read, bounded so it cannot fill the DO's storage.

import type { AuditEventInput } from "../lib/session-rpc.js";
import { decodeCursor, encodeCursor } from "./cursor.js";
import { all, iso, str, type Row } from "./sql.js";

export interface AuditEntry {
  seq: number;
  at: string;
  actor: string;
  kind: string;
  subject: string | null;
  old: unknown;
  new: unknown;
  detail: string | null;
}

export interface AuditFilter {
  kind?: string;
  domain?: string;
  /** ms since epoch */
  since?: number;
  until?: number;
}

/** Rows kept; older ones are pruned in batches. */
const KEEP = 100_000;

/** Candidate rows read per SQL query while a domain filter looks for a page of exact matches. */
const SCAN_BATCH = 256;

/**
 * Whether `text` names `domain` (lowercase) exactly: as one of a subject's domain parts
 * ("local<-remote", "local<->remote", "local->remote"), a JID's domain ("alice@peer.test"), or a word
 * of the detail, a sentence's full stop aside. "peer.test" is not named by "xpeer.test", nor by
 * "sub.peer.test" or "peer.test.evil": the filter is the domain itself, not its subdomains.
 */
export function namesDomain(text: string | null, domain: string): boolean {
  if (!text) return false;
  return text
    .toLowerCase()
    .split(/<->|<-|->|[^\p{L}\p{N}._*-]+/u)
    .some((t) => t.replace(/\.+$/, "") === domain);
}

export class AuditLog {
  constructor(readonly sql: SqlStorage) {}

  record(e: AuditEventInput, at = Date.now()): void {
    const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));
    const seq = Number(
      this.sql
        .exec<{ seq: number }>(
          "INSERT INTO audit (at, actor, kind, subject, old, new, detail) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING seq",
          at, e.actor, e.kind, e.subject ?? null, json(e.old), json(e.new), e.detail ?? null,
        )
        .one().seq,
    );
    if (seq % 1000 === 0) this.sql.exec("DELETE FROM audit WHERE seq <= ?", seq - KEEP);
  }

  /**
   * Newest first; the cursor is the last seq seen. Undefined for a cursor we did not issue. Filters:
   * `kind` exactly; `domain` named exactly in the subject or detail (namesDomain: subjects name pairs
   * as "local<-remote", "local<->remote", or a session id); `since`/`until` in ms since epoch, inclusive.
   */
  list(cursor: string | undefined, limit: number, filter: AuditFilter = {}): { items: AuditEntry[]; nextCursor: string | null } | undefined {
    let before = Number.MAX_SAFE_INTEGER;
    if (cursor !== undefined) {
      const k = decodeCursor(cursor, 1);
      if (!k || typeof k[0] !== "number") return undefined;
      before = k[0];
    }
    const where = ["seq < ?"];
    const args: (string | number)[] = [before];
    if (filter.kind) where.push("kind = ?"), args.push(filter.kind);
    const domain = filter.domain?.toLowerCase();
    // SQL narrows to rows containing the text; namesDomain keeps those that name the domain exactly.
    if (domain) where.push("(instr(lower(subject), ?) > 0 OR instr(lower(detail), ?) > 0)"), args.push(domain, domain);
    if (filter.since !== undefined) where.push("at >= ?"), args.push(filter.since);
    if (filter.until !== undefined) where.push("at <= ?"), args.push(filter.until);
    const query = `SELECT * FROM audit WHERE ${where.join(" AND ")} ORDER BY seq DESC LIMIT ?`;
    let rows: Row[];
    if (!domain) rows = all(this.sql, query, ...args, limit + 1);
    else {
      rows = [];
      for (;;) {
        const batch = all(this.sql, query, ...args, SCAN_BATCH);
        rows.push(...batch.filter((r) => namesDomain(str(r.subject), domain) || namesDomain(str(r.detail), domain)));
        if (rows.length > limit || batch.length < SCAN_BATCH) break;
        args[0] = Number(batch[batch.length - 1]!.seq); // seq < the last row read
      }
    }
    const items = rows.slice(0, limit).map((r) => ({
      seq: Number(r.seq),
      at: iso(r.at),
      actor: String(r.actor),
      kind: String(r.kind),
      subject: str(r.subject),
      old: r.old === null ? null : JSON.parse(String(r.old)),
      new: r.new === null ? null : JSON.parse(String(r.new)),
      detail: str(r.detail),
    }));
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > limit && last ? encodeCursor([last.seq]) : null };
  }
}
