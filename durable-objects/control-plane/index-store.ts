// The index of live sessions, their domain pairs, and recent connection attempts per peer: what the
// StreamSession DOs report, and what /admin/v1 lists. Keyset pagination with opaque cursors.

import type { PairKey, PairReport, PairVia, PeerAttempt, SessionInfo } from "../lib/session-rpc.js";
import { decodeCursor, encodeCursor } from "./cursor.js";
import { all, iso, one, str, type Row } from "./sql.js";

export interface PairEntry extends Omit<PairReport, "via"> {
  /** How the pair is authenticated; null when the edge does not know (a stream not in the index yet). */
  via: PairVia | null;
  sessionId: string;
  updatedAt: string;
}

export interface PairFilter {
  local?: string;
  remote?: string;
  direction?: string;
  state?: string;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/**
 * Attempts kept per domain and direction: enough to diagnose, bounded storage. A domain's rows are
 * trimmed back to this many once it recorded this many more (recordAttempt), so it holds at most
 * twice as many meanwhile (three times right after the ControlPlane restarted); the peer view shows
 * the newest 10.
 */
export const ATTEMPTS_KEPT = 20;

/** Domains whose attempts since their last trim are counted in memory; the oldest beyond are trimmed then. */
export const TRIM_TRACKED = 4096;

/**
 * Attempts kept in all: every domain a peer claims leaves rows, and a peer chooses how many domains
 * it claims (the 20,000-pair soak left 20,004 rows, 11 MB), so the oldest go past this many.
 */
export const ATTEMPTS_TOTAL = 50_000;

export class SessionIndex {
  /** Attempts recorded per "domain\ndirection" since its rows were last trimmed (this instance). */
  readonly #sinceTrim = new Map<string, number>();

  constructor(
    readonly sql: SqlStorage,
    private readonly maxAttempts = ATTEMPTS_TOTAL,
    private readonly trimTracked = TRIM_TRACKED,
  ) {}

  upsertSession(info: SessionInfo): void {
    this.sql.exec(
      `INSERT INTO sessions (id, info, direction, transport, peer, updated_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET info = excluded.info, direction = excluded.direction,
         transport = excluded.transport, peer = excluded.peer, updated_at = excluded.updated_at`,
      info.id, JSON.stringify(info), info.direction, info.transport, info.peer ?? null, Date.now(),
    );
  }

  dropSession(id: string): void {
    this.sql.exec("DELETE FROM pairs WHERE session_id = ?", id);
    this.sql.exec("DELETE FROM sessions WHERE id = ?", id);
  }

  hasSession(id: string): boolean {
    return one(this.sql, "SELECT id FROM sessions WHERE id = ?", id) !== undefined;
  }

  upsertPair(sessionId: string, p: PairReport): void {
    this.sql.exec(
      `INSERT INTO pairs (local, remote, direction, session_id, state, condition, updated_at, via) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (local, remote, direction, session_id) DO UPDATE SET state = excluded.state,
         condition = excluded.condition, updated_at = excluded.updated_at, via = excluded.via`,
      p.local, p.remote, p.direction, sessionId, p.state, p.condition ?? null, Date.now(),
      p.via === "sasl-external" || p.via === "dialback" ? p.via : null,
    );
  }

  dropPair(sessionId: string, p: PairKey): void {
    this.sql.exec("DELETE FROM pairs WHERE session_id = ? AND local = ? AND remote = ? AND direction = ?", sessionId, p.local, p.remote, p.direction);
  }

  /** Both directions of (local, remote) on one session: what revokePair removes. */
  dropPairBothWays(sessionId: string, local: string, remote: string): void {
    this.sql.exec("DELETE FROM pairs WHERE session_id = ? AND local = ? AND remote = ?", sessionId, local, remote);
  }

  /** Pending and valid pairs with the transport facts their session reported, for re-evaluation. */
  activePairs(): (PairKey & { sessionId: string; known: boolean; tls: boolean; tlsAuthenticated: boolean })[] {
    return all(
      this.sql,
      `SELECT p.local, p.remote, p.direction, p.session_id, s.info FROM pairs p
       LEFT JOIN sessions s ON s.id = p.session_id WHERE p.state IN ('valid', 'pending')`,
    ).map((r) => {
      const info = r.info ? (JSON.parse(String(r.info)) as SessionInfo) : undefined;
      return {
        local: String(r.local),
        remote: String(r.remote),
        direction: r.direction === "outbound" ? "outbound" : "inbound",
        sessionId: String(r.session_id),
        known: info !== undefined,
        tls: info?.tls ?? false,
        tlsAuthenticated: info?.tlsAuthenticated ?? false,
      };
    });
  }

  /** Streams whose peer is `domain` (it opened them, or they were opened to it). */
  sessionsOfPeer(domain: string): string[] {
    return all(this.sql, "SELECT id FROM sessions WHERE peer = ? ORDER BY id", domain).map((r) => String(r.id));
  }

  /** Pairs with `remote` on any stream, one per (session, local). */
  pairsWithRemote(remote: string): { sessionId: string; local: string }[] {
    return all(this.sql, "SELECT DISTINCT session_id, local FROM pairs WHERE remote = ? ORDER BY session_id, local", remote).map((r) => ({
      sessionId: String(r.session_id),
      local: String(r.local),
    }));
  }

  sessionsWithPair(local: string, remote: string): string[] {
    return all(this.sql, "SELECT DISTINCT session_id FROM pairs WHERE local = ? AND remote = ? ORDER BY session_id", local, remote).map((r) => String(r.session_id));
  }

  listPairs(filter: PairFilter, cursor: string | undefined, limit: number): Page<PairEntry> | undefined {
    const where: string[] = [];
    const args: SqlStorageValue[] = [];
    for (const col of ["local", "remote", "direction", "state"] as const) {
      const v = filter[col];
      if (v !== undefined) {
        where.push(`${col} = ?`);
        args.push(v);
      }
    }
    if (cursor !== undefined) {
      const k = decodeCursor(cursor, 4);
      if (!k) return undefined;
      where.push("(local, remote, direction, session_id) > (?, ?, ?, ?)");
      args.push(...k);
    }
    const rows = all(
      this.sql,
      `SELECT * FROM pairs ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY local, remote, direction, session_id LIMIT ?`,
      ...args, limit + 1,
    );
    const items = rows.slice(0, limit).map(pairEntry);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > limit && last ? encodeCursor([last.local, last.remote, last.direction, last.sessionId]) : null };
  }

  pairsBetween(local: string, remote: string): PairEntry[] {
    return all(this.sql, "SELECT * FROM pairs WHERE local = ? AND remote = ? ORDER BY direction, session_id", local, remote).map(pairEntry);
  }

  listSessions(cursor: string | undefined, limit: number): Page<SessionInfo & { pairs: number }> | undefined {
    let after = "";
    if (cursor !== undefined) {
      const k = decodeCursor(cursor, 1);
      if (!k) return undefined;
      after = String(k[0]);
    }
    const rows = all(
      this.sql,
      `SELECT s.info, (SELECT COUNT(*) FROM pairs p WHERE p.session_id = s.id) AS n FROM sessions s
       WHERE s.id > ? ORDER BY s.id LIMIT ?`,
      after, limit + 1,
    );
    const items = rows.slice(0, limit).map((r) => ({ ...(JSON.parse(String(r.info)) as SessionInfo), pairs: Number(r.n) }));
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > limit && last ? encodeCursor([last.id]) : null };
  }

  getSession(id: string): (SessionInfo & { pairs: PairEntry[] }) | null {
    const row = one(this.sql, "SELECT info FROM sessions WHERE id = ?", id);
    if (!row) return null;
    const pairs = all(this.sql, "SELECT * FROM pairs WHERE session_id = ? ORDER BY local, remote, direction", id).map(pairEntry);
    return { ...(JSON.parse(String(row.info)) as SessionInfo), pairs };
  }

  recordAttempt(a: PeerAttempt): void {
    const seq = this.sql.exec<{ seq: number }>(
      "INSERT INTO peer_attempts (domain, direction, at, outcome, condition, detail, latency_ms) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING seq",
      a.domain, a.direction, a.at, a.outcome, a.condition ?? null, a.detail ?? null,
      typeof a.latencyMs === "number" && Number.isFinite(a.latencyMs) ? Math.max(0, Math.round(a.latencyMs)) : null,
    ).one().seq;
    // The oldest beyond maxAttempts in all: a range on the primary key.
    if (seq > this.maxAttempts) this.sql.exec("DELETE FROM peer_attempts WHERE seq <= ?", seq - this.maxAttempts);
    // The per-domain trim once per ATTEMPTS_KEPT attempts of a domain, not after each: it was half of
    // what a report cost the ControlPlane (issue 11 profile, 200-domain fan-out: ~0.2 ms per attempt).
    const key = `${a.domain}\n${a.direction}`;
    const n = (this.#sinceTrim.get(key) ?? 0) + 1;
    this.#sinceTrim.delete(key);
    if (n >= ATTEMPTS_KEPT) return this.#trim(key);
    this.#sinceTrim.set(key, n);
    if (this.#sinceTrim.size > this.trimTracked) {
      const oldest = this.#sinceTrim.keys().next().value!;
      this.#sinceTrim.delete(oldest);
      this.#trim(oldest);
    }
  }

  /** Older than the ATTEMPTS_KEPT-th newest of one domain and direction: a range on its index. */
  #trim(key: string): void {
    const [domain, direction] = key.split("\n") as [string, string];
    this.sql.exec(
      `DELETE FROM peer_attempts WHERE domain = ? AND direction = ? AND seq <
       (SELECT seq FROM peer_attempts WHERE domain = ? AND direction = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)`,
      domain, direction, domain, direction, ATTEMPTS_KEPT - 1,
    );
  }

  /** Live sessions and pairs with `domain`, and the last attempts each way. */
  peer(domain: string) {
    const attempts = (direction: string) =>
      all(this.sql, "SELECT * FROM peer_attempts WHERE domain = ? AND direction = ? ORDER BY seq DESC LIMIT 10", domain, direction).map((r) => ({
        at: iso(r.at),
        outcome: String(r.outcome),
        condition: str(r.condition),
        detail: str(r.detail),
        latencyMs: r.latency_ms === null || r.latency_ms === undefined ? null : Number(r.latency_ms),
      }));
    return {
      sessions: all(this.sql, "SELECT id FROM sessions WHERE peer = ? ORDER BY id", domain).map((r) => String(r.id)),
      pairs: all(this.sql, "SELECT * FROM pairs WHERE remote = ? ORDER BY local, direction, session_id", domain).map(pairEntry),
      inbound: attempts("inbound"),
      outbound: attempts("outbound"),
    };
  }

  sessionCounts(): { direction: string; transport: string; n: number }[] {
    return all(this.sql, "SELECT direction, transport, COUNT(*) AS n FROM sessions GROUP BY direction, transport ORDER BY direction, transport").map((r) => ({
      direction: String(r.direction),
      transport: String(r.transport),
      n: Number(r.n),
    }));
  }

  pairCounts(): { state: string; n: number }[] {
    return all(this.sql, "SELECT state, COUNT(*) AS n FROM pairs GROUP BY state ORDER BY state").map((r) => ({ state: String(r.state), n: Number(r.n) }));
  }
}

function pairEntry(r: Row): PairEntry {
  const e: PairEntry = {
    local: String(r.local),
    remote: String(r.remote),
    direction: r.direction === "outbound" ? "outbound" : "inbound",
    state: String(r.state) as PairEntry["state"],
    via: r.via === "sasl-external" || r.via === "dialback" ? r.via : null,
    sessionId: String(r.session_id),
    updatedAt: iso(r.updated_at),
  };
  if (r.condition !== null && r.condition !== undefined) e.condition = String(r.condition);
  return e;
}
