// ControlPlane: the singleton Durable Object (binding CONTROL_PLANE, name "control") that owns the
// federation policy (versioned, SQLite), the audit log, and the index of live sessions and domain
// pairs that StreamSession DOs report to. It also fans policy out: when a change refuses a peer, it
// tells each session holding a pair with that peer to revoke it (the session bounces queued stanzas
// and closes a stream left with no pair; see durable-objects/lib/session-rpc.ts).
//
// RPC API (DurableObject RPC; types in durable-objects/lib/session-rpc.ts):
//   for sessions (ControlPlaneRpc):
//     getPolicy() -> { version, document, updatedAt, updatedBy }
//     reportSession(info: SessionInfo)            upsert, also to refresh byte/stanza counters
//     sessionClosed(id, condition?)               drops the session and its pairs from the index
//     reportPair(sessionId, { local, remote, direction, state, condition? })
//     pairRemoved(sessionId, { local, remote, direction })
//     recordAudit({ kind, actor, subject?, old?, new?, detail? })   e.g. spoofing-attempt
//     observe(events: MetricEvent[])              dialback outcomes, verification latency, bounces
//     reportPeerAttempt({ domain, direction, at, outcome, condition?, detail? })
//   for the admin API (worker/routes/admin.ts):
//     updatePolicy(op, { actor, ifMatch? }) -> MutationResult   (409 on version conflict)
//     listPairs(filter, cursor?, limit) / pairsBetween(local, remote) / revokePair(local, remote, actor)
//     listSessions(cursor?, limit) / getSession(id) / closeSession(id, condition, text, actor)
//     listAudit(cursor?, limit) / peer(domain) / metrics()
// The ControlPlane calls sessions through StreamSessionRpc: revokePair, closeStream, describe.

import { DurableObject } from "cloudflare:workers";
import type { Env } from "../worker/env.js";
import type { StreamErrorCondition } from "../src/errors.js";
import {
  DEFAULT_POLICY,
  effectiveLevel,
  evaluatePair,
  mergePatch,
  normalizePattern,
  parsePolicy,
  policyWarnings,
  type PolicyDocument,
  type PolicyIssue,
} from "../src/policy/index.js";
import type {
  AuditEventInput,
  ControlPlaneRpc,
  MetricEvent,
  PairKey,
  PairReport,
  PeerAttempt,
  PolicySnapshot,
  SessionInfo,
  StreamSessionRpc,
} from "./lib/session-rpc.js";
import { decodeCursor, encodeCursor } from "../worker/admin/cursor.js";
import { LATENCY_BUCKETS, renderPrometheus, type Family } from "../worker/admin/prometheus.js";

export type PolicyOp =
  | { op: "replace"; document: unknown }
  | { op: "patch"; patch: unknown }
  | { op: "put-rule"; pattern: string; rule: unknown }
  | { op: "delete-rule"; pattern: string };

export interface Enforcement {
  revoked: { sessionId: string; local: string; remote: string; direction: string; condition: string }[];
  failed: { sessionId: string; error: string }[];
}

export type Failure = { ok: false; status: 404 | 409 | 422 | 502; title: string; detail: string; issues?: PolicyIssue[]; currentVersion?: number };
export type MutationResult =
  | { ok: true; version: number; document: PolicyDocument; warnings: string[]; created: boolean; enforcement: Enforcement }
  | Failure;

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

export interface PairEntry extends PairReport {
  sessionId: string;
  updatedAt: string;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface PairFilter {
  local?: string;
  remote?: string;
  direction?: string;
  state?: string;
}

type Row = Record<string, SqlStorageValue>;

export class ControlPlane extends DurableObject<Env> implements ControlPlaneRpc {
  readonly #sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    this.#sql.exec(`
      CREATE TABLE IF NOT EXISTS policy (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL,
        document TEXT NOT NULL, updated_at INTEGER NOT NULL, updated_by TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL,
        actor TEXT NOT NULL, kind TEXT NOT NULL, subject TEXT, old TEXT, new TEXT, detail TEXT);
      CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, info TEXT NOT NULL, direction TEXT NOT NULL,
        transport TEXT NOT NULL, peer TEXT, updated_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS pairs (local TEXT NOT NULL, remote TEXT NOT NULL, direction TEXT NOT NULL,
        session_id TEXT NOT NULL, state TEXT NOT NULL, condition TEXT, updated_at INTEGER NOT NULL,
        PRIMARY KEY (local, remote, direction, session_id));
      CREATE INDEX IF NOT EXISTS pairs_by_session ON pairs (session_id);
      CREATE TABLE IF NOT EXISTS peer_attempts (seq INTEGER PRIMARY KEY AUTOINCREMENT, domain TEXT NOT NULL,
        direction TEXT NOT NULL, at INTEGER NOT NULL, outcome TEXT NOT NULL, condition TEXT, detail TEXT);
      CREATE INDEX IF NOT EXISTS peer_attempts_by_domain ON peer_attempts (domain, direction, seq);
      CREATE TABLE IF NOT EXISTS metrics (name TEXT NOT NULL, labels TEXT NOT NULL, value REAL NOT NULL,
        PRIMARY KEY (name, labels));
    `);
  }

  // ---- policy -------------------------------------------------------------------------------

  async getPolicy(): Promise<PolicySnapshot> {
    const row = this.#one("SELECT version, document, updated_at, updated_by FROM policy WHERE id = 1");
    if (!row) return { version: 0, document: DEFAULT_POLICY, updatedAt: 0, updatedBy: "default" };
    return {
      version: Number(row.version),
      document: JSON.parse(String(row.document)) as PolicyDocument,
      updatedAt: Number(row.updated_at),
      updatedBy: String(row.updated_by),
    };
  }

  /** Applies one change atomically; `ifMatch` is the version the caller last saw (optimistic concurrency). */
  async updatePolicy(op: PolicyOp, opts: { actor: string; ifMatch?: number }): Promise<MutationResult> {
    const current = await this.getPolicy();
    if (opts.ifMatch !== undefined && opts.ifMatch !== current.version) {
      return {
        ok: false,
        status: 409,
        title: "Policy version conflict",
        detail: `If-Match names version ${opts.ifMatch} but the policy is at version ${current.version}; GET it and retry`,
        currentVersion: current.version,
      };
    }
    let candidate: unknown;
    let created = false;
    let subject: string | undefined;
    let oldValue: unknown = current.document;
    let newValue: (doc: PolicyDocument) => unknown = (d) => d;
    const kind = ({ replace: "policy.replaced", patch: "policy.patched", "put-rule": "policy.rule-set", "delete-rule": "policy.rule-deleted" } as const)[op.op];
    switch (op.op) {
      case "replace":
        candidate = op.document;
        break;
      case "patch":
        candidate = mergePatch(current.document, op.patch);
        break;
      case "put-rule":
      case "delete-rule": {
        const pattern = normalizePattern(op.pattern);
        if (!pattern) {
          return { ok: false, status: 422, title: "Invalid domain pattern", detail: `'${op.pattern}' is not a domain or *.domain pattern` };
        }
        subject = pattern;
        const domains = { ...current.document.domains } as Record<string, unknown>;
        oldValue = domains[pattern] ?? null;
        if (op.op === "delete-rule") {
          if (!(pattern in domains)) {
            return { ok: false, status: 404, title: "No such rule", detail: `the policy has no rule for '${pattern}'` };
          }
          delete domains[pattern];
        } else {
          created = !(pattern in domains);
          domains[pattern] = op.rule;
        }
        candidate = { ...current.document, domains };
        newValue = (d) => d.domains[pattern] ?? null;
        break;
      }
    }
    const parsed = parsePolicy(candidate);
    if (!parsed.ok) {
      const detail = parsed.issues.map((i) => `${op.op === "put-rule" ? i.path.replace(`domains.${subject}.`, "") : i.path}: ${i.message}`).join("; ");
      return { ok: false, status: 422, title: "Invalid policy", detail, issues: parsed.issues };
    }
    const doc = parsed.document;
    const version = current.version + 1;
    const now = Date.now();
    this.ctx.storage.transactionSync(() => {
      this.#sql.exec(
        `INSERT INTO policy (id, version, document, updated_at, updated_by) VALUES (1, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET version = excluded.version, document = excluded.document,
           updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
        version, JSON.stringify(doc), now, opts.actor,
      );
      this.#audit({ kind, actor: opts.actor, subject, old: oldValue, new: newValue(doc), detail: `version ${current.version} -> ${version}` }, now);
    });
    const warnings = policyWarnings(doc);
    for (const w of warnings) console.warn(`policy v${version}: ${w}`);
    const enforcement = await this.#enforce(doc);
    return { ok: true, version, document: doc, warnings, created, enforcement };
  }

  /**
   * Issue 5: a change that now refuses a peer ends its pairs at once. Every indexed pair is
   * re-evaluated with the facts its session reported; refused ones are revoked on their session.
   */
  async #enforce(doc: PolicyDocument): Promise<Enforcement> {
    const out: Enforcement = { revoked: [], failed: [] };
    const rows = this.#all(
      `SELECT p.local, p.remote, p.direction, p.session_id, s.info FROM pairs p
       LEFT JOIN sessions s ON s.id = p.session_id WHERE p.state IN ('valid', 'pending')`,
    );
    const bySession = new Map<string, { local: string; remote: string; direction: string; condition: StreamErrorCondition | "forbidden"; text: string }[]>();
    for (const r of rows) {
      const info = r.info ? (JSON.parse(String(r.info)) as SessionInfo) : undefined;
      const d = evaluatePair(doc, {
        local: String(r.local),
        remote: String(r.remote),
        direction: r.direction === "outbound" ? "outbound" : "inbound",
        transport: { encrypted: info?.tls ?? false, authenticated: info?.tlsAuthenticated ?? false },
      });
      if (d.allowed) continue;
      const sid = String(r.session_id);
      const list = bySession.get(sid) ?? [];
      list.push({ local: String(r.local), remote: String(r.remote), direction: String(r.direction), condition: d.condition, text: d.text });
      bySession.set(sid, list);
    }
    await Promise.all(
      [...bySession].map(async ([sid, pairs]) => {
        const stub = this.#session(sid);
        const done = new Set<string>();
        for (const p of pairs) {
          // revokePair drops the (local, remote) pair in every direction it exists on that stream.
          const key = `${p.local} ${p.remote}`;
          if (done.has(key)) continue;
          done.add(key);
          try {
            await stub.revokePair(p.local, p.remote, { condition: p.condition, text: p.text, actor: "policy" });
            this.#sql.exec("DELETE FROM pairs WHERE session_id = ? AND local = ? AND remote = ?", sid, p.local, p.remote);
            out.revoked.push({ sessionId: sid, local: p.local, remote: p.remote, direction: p.direction, condition: p.condition });
            this.#audit({ kind: "pair.revoked", actor: "policy", subject: `${p.local}<->${p.remote}`, detail: `session ${sid}: ${p.condition}: ${p.text}` });
          } catch (err) {
            out.failed.push({ sessionId: sid, error: errorText(err) });
          }
        }
      }),
    );
    return out;
  }

  // ---- reports from sessions ----------------------------------------------------------------

  async reportSession(info: SessionInfo): Promise<void> {
    this.#sql.exec(
      `INSERT INTO sessions (id, info, direction, transport, peer, updated_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET info = excluded.info, direction = excluded.direction,
         transport = excluded.transport, peer = excluded.peer, updated_at = excluded.updated_at`,
      info.id, JSON.stringify(info), info.direction, info.transport, info.peer ?? null, Date.now(),
    );
  }

  async sessionClosed(id: string, _condition?: string): Promise<void> {
    this.ctx.storage.transactionSync(() => {
      this.#sql.exec("DELETE FROM pairs WHERE session_id = ?", id);
      this.#sql.exec("DELETE FROM sessions WHERE id = ?", id);
    });
  }

  async reportPair(sessionId: string, pair: PairReport): Promise<void> {
    this.#sql.exec(
      `INSERT INTO pairs (local, remote, direction, session_id, state, condition, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (local, remote, direction, session_id) DO UPDATE SET state = excluded.state,
         condition = excluded.condition, updated_at = excluded.updated_at`,
      pair.local, pair.remote, pair.direction, sessionId, pair.state, pair.condition ?? null, Date.now(),
    );
  }

  async pairRemoved(sessionId: string, pair: PairKey): Promise<void> {
    this.#sql.exec(
      "DELETE FROM pairs WHERE session_id = ? AND local = ? AND remote = ? AND direction = ?",
      sessionId, pair.local, pair.remote, pair.direction,
    );
  }

  async recordAudit(event: AuditEventInput): Promise<void> {
    this.#audit(event);
  }

  async observe(events: MetricEvent[]): Promise<void> {
    for (const e of events) {
      if (e.kind === "dialback") this.#bump("dialback_outcomes", `condition=${e.condition}`, 1);
      else if (e.kind === "bounce") this.#bump("bounced_stanzas", `condition=${e.condition}`, 1);
      else if (e.kind === "verification-latency" && Number.isFinite(e.seconds) && e.seconds >= 0) {
        const le = LATENCY_BUCKETS.find((b) => e.seconds <= b);
        this.#bump("verification_latency_bucket", `le=${le ?? "+Inf"}`, 1);
        this.#bump("verification_latency_sum", "", e.seconds);
        this.#bump("verification_latency_count", "", 1);
      }
    }
  }

  async reportPeerAttempt(a: PeerAttempt): Promise<void> {
    this.#sql.exec(
      "INSERT INTO peer_attempts (domain, direction, at, outcome, condition, detail) VALUES (?, ?, ?, ?, ?, ?)",
      a.domain, a.direction, a.at, a.outcome, a.condition ?? null, a.detail ?? null,
    );
    // Keep the last 20 per domain and direction: enough to diagnose, bounded storage.
    this.#sql.exec(
      `DELETE FROM peer_attempts WHERE domain = ? AND direction = ? AND seq NOT IN
       (SELECT seq FROM peer_attempts WHERE domain = ? AND direction = ? ORDER BY seq DESC LIMIT 20)`,
      a.domain, a.direction, a.domain, a.direction,
    );
  }

  // ---- queries and operator actions for the admin API -----------------------------------------

  async listPairs(filter: PairFilter, cursor: string | undefined, limit: number): Promise<Page<PairEntry> | Failure> {
    const where: string[] = [];
    const args: SqlStorageValue[] = [];
    for (const [col, v] of [["local", filter.local], ["remote", filter.remote], ["direction", filter.direction], ["state", filter.state]] as const) {
      if (v !== undefined) {
        where.push(`${col} = ?`);
        args.push(v);
      }
    }
    if (cursor !== undefined) {
      const k = decodeCursor(cursor, 4);
      if (!k) return badCursor(cursor);
      where.push("(local, remote, direction, session_id) > (?, ?, ?, ?)");
      args.push(...k);
    }
    const rows = this.#all(
      `SELECT * FROM pairs ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
       ORDER BY local, remote, direction, session_id LIMIT ?`,
      ...args, limit + 1,
    );
    const items = rows.slice(0, limit).map(pairEntry);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > limit && last ? encodeCursor([last.local, last.remote, last.direction, last.sessionId]) : null };
  }

  async pairsBetween(local: string, remote: string): Promise<PairEntry[]> {
    return this.#all("SELECT * FROM pairs WHERE local = ? AND remote = ? ORDER BY direction, session_id", local, remote).map(pairEntry);
  }

  /** DELETE /pairs/{local}/{remote}: drop the pair on every stream that has it. */
  async revokePair(local: string, remote: string, actor: string): Promise<Enforcement | Failure> {
    const sessions = [...new Set(this.#all("SELECT DISTINCT session_id FROM pairs WHERE local = ? AND remote = ?", local, remote).map((r) => String(r.session_id)))];
    if (sessions.length === 0) return { ok: false, status: 404, title: "No such pair", detail: `no stream carries the domain pair ${local} <-> ${remote}` };
    const out: Enforcement = { revoked: [], failed: [] };
    const text = `the domain pair ${local} <-> ${remote} was revoked by the operator`;
    for (const sid of sessions) {
      try {
        await this.#session(sid).revokePair(local, remote, { condition: "policy-violation", text, actor });
        this.#sql.exec("DELETE FROM pairs WHERE session_id = ? AND local = ? AND remote = ?", sid, local, remote);
        out.revoked.push({ sessionId: sid, local, remote, direction: "both", condition: "policy-violation" });
        this.#audit({ kind: "pair.revoked", actor, subject: `${local}<->${remote}`, detail: `session ${sid}` });
      } catch (err) {
        out.failed.push({ sessionId: sid, error: errorText(err) });
      }
    }
    return out;
  }

  async listSessions(cursor: string | undefined, limit: number): Promise<Page<SessionInfo & { pairs: number }> | Failure> {
    let after = "";
    if (cursor !== undefined) {
      const k = decodeCursor(cursor, 1);
      if (!k) return badCursor(cursor);
      after = String(k[0]);
    }
    const rows = this.#all(
      `SELECT s.info, (SELECT COUNT(*) FROM pairs p WHERE p.session_id = s.id) AS n FROM sessions s
       WHERE s.id > ? ORDER BY s.id LIMIT ?`,
      after, limit + 1,
    );
    const items = rows.slice(0, limit).map((r) => ({ ...(JSON.parse(String(r.info)) as SessionInfo), pairs: Number(r.n) }));
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > limit && last ? encodeCursor([last.id]) : null };
  }

  async getSession(id: string): Promise<(SessionInfo & { pairs: PairEntry[] }) | null> {
    const row = this.#one("SELECT info FROM sessions WHERE id = ?", id);
    if (!row) return null;
    const pairs = this.#all("SELECT * FROM pairs WHERE session_id = ? ORDER BY local, remote, direction", id).map(pairEntry);
    return { ...(JSON.parse(String(row.info)) as SessionInfo), pairs };
  }

  /** DELETE /sessions/{id}: the session closes with the operator's stream error and bounces its queue. */
  async closeSession(id: string, condition: StreamErrorCondition, text: string | undefined, actor: string): Promise<{ ok: true } | Failure> {
    if (!this.#one("SELECT id FROM sessions WHERE id = ?", id)) {
      return { ok: false, status: 404, title: "No such session", detail: `no live session has id '${id}'` };
    }
    try {
      await this.#session(id).closeStream(condition, text);
    } catch (err) {
      return { ok: false, status: 502, title: "Session did not answer", detail: `closing session '${id}' failed: ${errorText(err)}` };
    }
    await this.sessionClosed(id, condition);
    this.#audit({ kind: "session.closed", actor, subject: id, detail: text ? `${condition}: ${text}` : condition });
    return { ok: true };
  }

  async listAudit(cursor: string | undefined, limit: number, kind?: string): Promise<Page<AuditEntry> | Failure> {
    let before = Number.MAX_SAFE_INTEGER;
    if (cursor !== undefined) {
      const k = decodeCursor(cursor, 1);
      if (!k || typeof k[0] !== "number") return badCursor(cursor);
      before = k[0];
    }
    const rows = kind
      ? this.#all("SELECT * FROM audit WHERE seq < ? AND kind = ? ORDER BY seq DESC LIMIT ?", before, kind, limit + 1)
      : this.#all("SELECT * FROM audit WHERE seq < ? ORDER BY seq DESC LIMIT ?", before, limit + 1);
    const items = rows.slice(0, limit).map((r) => ({
      seq: Number(r.seq),
      at: new Date(Number(r.at)).toISOString(),
      actor: String(r.actor),
      kind: String(r.kind),
      subject: r.subject === null ? null : String(r.subject),
      old: r.old === null ? null : JSON.parse(String(r.old)),
      new: r.new === null ? null : JSON.parse(String(r.new)),
      detail: r.detail === null ? null : String(r.detail),
    }));
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > limit && last ? encodeCursor([last.seq]) : null };
  }

  /** GET /peers/{domain}: what policy says, what is live, and the last attempts each way. */
  async peer(domain: string) {
    const { document } = await this.getPolicy();
    const { level, rule } = effectiveLevel(document, domain);
    const attempts = (direction: string) =>
      this.#all("SELECT * FROM peer_attempts WHERE domain = ? AND direction = ? ORDER BY seq DESC LIMIT 10", domain, direction).map((r) => ({
        at: new Date(Number(r.at)).toISOString(),
        outcome: String(r.outcome),
        condition: r.condition === null ? null : String(r.condition),
        detail: r.detail === null ? null : String(r.detail),
      }));
    return {
      domain,
      policy: {
        level,
        rule: rule ? { pattern: rule.pattern, ...rule.rule } : null,
        denied: rule?.rule.action === "deny" || (document.allowlistOnly && rule?.rule.action !== "allow"),
      },
      sessions: this.#all("SELECT id FROM sessions WHERE peer = ? ORDER BY id", domain).map((r) => String(r.id)),
      pairs: this.#all("SELECT * FROM pairs WHERE remote = ? ORDER BY local, direction, session_id", domain).map(pairEntry),
      inbound: attempts("inbound"),
      outbound: attempts("outbound"),
    };
  }

  /** GET /metrics: gauges from the index, counters and the latency histogram from observe(). */
  async metrics(): Promise<string> {
    const counter = (name: string) => this.#all("SELECT labels, value FROM metrics WHERE name = ? ORDER BY labels", name);
    const labelled = (rows: Row[], key: string) =>
      rows.map((r) => ({ labels: { [key]: String(r.labels).slice(key.length + 1) }, value: Number(r.value) }));
    const buckets = new Map(counter("verification_latency_bucket").map((r) => [String(r.labels).slice(3), Number(r.value)]));
    let cumulative = 0;
    const bucketSamples = [...LATENCY_BUCKETS.map(String), "+Inf"].map((le) => {
      cumulative += buckets.get(le) ?? 0;
      return { suffix: "_bucket", labels: { le }, value: cumulative };
    });
    const scalar = (name: string) => Number(this.#one("SELECT value FROM metrics WHERE name = ? AND labels = ''", name)?.value ?? 0);
    const { version } = await this.getPolicy();
    const families: Family[] = [
      {
        name: "dialback_edge_sessions",
        help: "Live S2S stream sessions by direction and transport.",
        type: "gauge",
        samples: this.#all("SELECT direction, transport, COUNT(*) AS n FROM sessions GROUP BY direction, transport ORDER BY direction, transport").map((r) => ({
          labels: { direction: String(r.direction), transport: String(r.transport) },
          value: Number(r.n),
        })),
      },
      {
        name: "dialback_edge_pairs",
        help: "Domain pairs on live streams by state.",
        type: "gauge",
        samples: this.#all("SELECT state, COUNT(*) AS n FROM pairs GROUP BY state ORDER BY state").map((r) => ({ labels: { state: String(r.state) }, value: Number(r.n) })),
      },
      { name: "dialback_edge_dialback_outcomes_total", help: "Dialback outcomes by result or dialback error condition.", type: "counter", samples: labelled(counter("dialback_outcomes"), "condition") },
      {
        name: "dialback_edge_verification_latency_seconds",
        help: "Receiving role: time from db:result to the Authoritative Server's answer.",
        type: "histogram",
        samples: [...bucketSamples, { suffix: "_sum", value: scalar("verification_latency_sum") }, { suffix: "_count", value: scalar("verification_latency_count") }],
      },
      { name: "dialback_edge_bounced_stanzas_total", help: "Stanzas bounced to their senders by stanza error condition.", type: "counter", samples: labelled(counter("bounced_stanzas"), "condition") },
      { name: "dialback_edge_policy_version", help: "Version of the federation policy in force.", type: "gauge", samples: [{ value: version }] },
    ];
    return renderPrometheus(families);
  }

  // ---- helpers ----------------------------------------------------------------------------

  #session(id: string): DurableObjectStub & StreamSessionRpc {
    const ns = this.env.STREAM_SESSION;
    return ns.get(ns.idFromName(id)) as unknown as DurableObjectStub & StreamSessionRpc;
  }

  #audit(e: AuditEventInput, at = Date.now()): void {
    const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));
    this.#sql.exec(
      "INSERT INTO audit (at, actor, kind, subject, old, new, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
      at, e.actor, e.kind, e.subject ?? null, json(e.old), json(e.new), e.detail ?? null,
    );
  }

  #bump(name: string, labels: string, by: number): void {
    this.#sql.exec(
      "INSERT INTO metrics (name, labels, value) VALUES (?, ?, ?) ON CONFLICT (name, labels) DO UPDATE SET value = value + excluded.value",
      name, labels, by,
    );
  }

  #all(query: string, ...args: SqlStorageValue[]): Row[] {
    return this.#sql.exec<Row>(query, ...args).toArray();
  }

  #one(query: string, ...args: SqlStorageValue[]): Row | undefined {
    return this.#all(query, ...args)[0];
  }
}

function pairEntry(r: Row): PairEntry {
  const e: PairEntry = {
    local: String(r.local),
    remote: String(r.remote),
    direction: r.direction === "outbound" ? "outbound" : "inbound",
    state: String(r.state) as PairEntry["state"],
    sessionId: String(r.session_id),
    updatedAt: new Date(Number(r.updated_at)).toISOString(),
  };
  if (r.condition !== null && r.condition !== undefined) e.condition = String(r.condition);
  return e;
}

function badCursor(cursor: string): Failure {
  return { ok: false, status: 422, title: "Invalid cursor", detail: `'${cursor}' is not a cursor this API returned` };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
