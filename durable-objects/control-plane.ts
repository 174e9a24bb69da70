// ControlPlane: the singleton Durable Object (binding CONTROL_PLANE, name "control") that owns the
// federation policy (versioned, SQLite), the audit log, and the index of live sessions and domain
// pairs that StreamSession DOs report to. It also fans policy out: when a change refuses a peer, it
// tells each session holding a pair with that peer to revoke it (the session bounces queued stanzas
// and closes a stream left with no pair; see durable-objects/lib/session-rpc.ts).
//
// RPC API (DurableObject RPC; argument types in durable-objects/lib/session-rpc.ts):
//   for sessions (ControlPlaneRpc):
//     getPolicy() -> { version, document, updatedAt, updatedBy }   build DocumentPolicyView from it
//     subscribePolicy(sessionId) -> the same, and every later change is pushed to that session
//       (policyChanged) before the change is answered: sessions read the policy once, not per pair
//     reportSession(info: SessionInfo)            upsert, also to refresh byte/stanza counters
//     sessionClosed(id, condition?)               drops the session and its pairs from the index
//     reportPair(sessionId, { local, remote, direction, state, condition?, via? })
//     pairRemoved(sessionId, { local, remote, direction })
//     recordAudit({ kind, actor, subject?, old?, new?, detail? })   e.g. spoofing-attempt
//     observe(events: MetricEvent[])              dialback outcomes, verification latency, bounces
//     reportPeerAttempt({ domain, direction, at, outcome, condition?, latencyMs?, detail? })
//     report(sessionId, [[method, args], ...])  several of the above at once (what sessions send)
//   for the admin API (worker/admin/*):
//     updatePolicy(op, { actor, ifMatch? }) -> MutationResult   (412 when ifMatch is stale)
//     listPairs / pairsBetween / revokePair(local, remote, actor)
//     listSessions / getSession / closeSession(id, condition, text, actor)
//     listAudit / peer(domain) / metrics()
//   Failures come back as values ({ ok: false, status, title, detail }), not exceptions: RPC would
//   lose their shape. The ControlPlane calls sessions through StreamSessionRpc (revokePair,
//   closeStream); stores live in durable-objects/control-plane/.

import { DurableObject } from "cloudflare:workers";
import type { Env } from "./env.js";
import { log } from "./lib/log.js";
import { inboundStreamRpc } from "./lib/stubs.js";
import type { StreamErrorCondition } from "../src/errors.js";
import { AUDIT_KIND, DEFAULT_POLICY, applyPolicyOp, effectiveLevel, evaluatePair, policyWarnings, type PolicyDocument, type PolicyIssue, type PolicyOp } from "../src/policy/index.js";
import { REPORT_METHODS, type ReportMethod } from "./lib/session-rpc.js";
import type { AuditEventInput, ControlPlaneRpc, MetricEvent, PairKey, PairReport, PeerAttempt, PolicySnapshot, RevokeReason, SessionInfo, StreamSessionRpc } from "./lib/session-rpc.js";
import { all, migrate, one } from "./control-plane/sql.js";
import { AuditLog, type AuditEntry, type AuditFilter } from "./control-plane/audit.js";
import { SessionIndex, type Page, type PairEntry, type PairFilter } from "./control-plane/index-store.js";
import { Metrics } from "./control-plane/metrics.js";
import { ReportBatch } from "./control-plane/report-batch.js";

export type { PolicyOp, AuditEntry, Page, PairEntry, PairFilter };

export interface Enforcement {
  revoked: { sessionId: string; local: string; remote: string; condition: string }[];
  failed: { sessionId: string; local: string; remote: string; error: string }[];
}

/** What DELETE /peers/{domain}/sessions did. */
export interface PeerClose {
  domain: string;
  condition: StreamErrorCondition;
  /** Streams whose peer is the domain, closed. */
  closed: string[];
  /** Pairs with the domain revoked on streams of other peers. */
  revoked: Enforcement["revoked"];
  failed: { sessionId: string; error: string }[];
}

export type Failure = { ok: false; status: 404 | 412 | 422 | 502; title: string; detail: string; issues?: PolicyIssue[] };
export type MutationResult =
  | { ok: true; version: number; document: PolicyDocument; warnings: string[]; created: boolean; enforcement: Enforcement }
  | Failure;

const badCursor = (cursor: string): Failure => ({ ok: false, status: 422, title: "Invalid cursor", detail: `'${cursor}' is not a cursor this API returned` });
const OUTBOUND_PREFIX = "remote:";
const AUTHORITY_PREFIX = "authority:";
/** How long a policy push waits for one session. */
const PUSH_MS = 2000;
function withDeadline<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

export class ControlPlane extends DurableObject<Env> implements ControlPlaneRpc {
  readonly #sql: SqlStorage;
  readonly #audit: AuditLog;
  readonly #index: SessionIndex;
  readonly #metrics: Metrics;
  /** Policy reads sessions asked for (getPolicy, subscribePolicy) since this instance started (diagnostics, tests). */
  #policyReads = 0;
  /** report() calls per session id since this instance started (bounded). */
  readonly #reportCalls = new Map<string, number>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    migrate(this.#sql);
    this.#audit = new AuditLog(this.#sql);
    this.#index = new SessionIndex(this.#sql);
    this.#metrics = new Metrics(this.#sql);
  }

  // ---- policy -------------------------------------------------------------------------------

  async getPolicy(): Promise<PolicySnapshot> {
    this.#policyReads++;
    return this.#readPolicy();
  }

  /**
   * Issue 11.6: a session reads the policy once (at stream start, and again after an eviction) and
   * the ControlPlane pushes every change to it, instead of the session reading it before every new
   * pair (a round trip to this singleton, queued behind every session's reports: 5-170 ms per
   * db:result under load). Reading and subscribing happen in one call, so no change can fall between.
   */
  async subscribePolicy(sessionId: string): Promise<PolicySnapshot> {
    this.#policyReads++;
    this.#sql.exec("INSERT OR IGNORE INTO policy_subscribers (session_id) VALUES (?)", sessionId);
    return this.#readPolicy();
  }

  /** getPolicy and subscribePolicy calls so far (tests: no read per db:result). */
  async policyReads(): Promise<number> {
    return this.#policyReads;
  }

  #readPolicy(): PolicySnapshot {
    const row = one(this.#sql, "SELECT version, document, updated_at, updated_by FROM policy WHERE id = 1");
    if (!row) return { version: 0, document: DEFAULT_POLICY, updatedAt: 0, updatedBy: "default" };
    return { version: Number(row.version), document: JSON.parse(String(row.document)) as PolicyDocument, updatedAt: Number(row.updated_at), updatedBy: String(row.updated_by) };
  }

  /** One change, atomically; `ifMatch` is the version the caller last saw (optimistic concurrency). */
  async updatePolicy(op: PolicyOp, opts: { actor: string; ifMatch?: number }): Promise<MutationResult> {
    // No await between reading the version and writing the new one: the DO's input gate makes the
    // read-check-write atomic against concurrent requests.
    const current = this.#readPolicy();
    if (opts.ifMatch !== undefined && opts.ifMatch !== current.version) {
      // RFC 9110 §13.1.1: a false If-Match condition is 412 Precondition Failed.
      return { ok: false, status: 412, title: "Precondition Failed", detail: `If-Match names version ${opts.ifMatch} but the policy is at version ${current.version}; GET it and retry` };
    }
    const r = applyPolicyOp(current.document, op);
    if (!r.ok) return r;
    const version = current.version + 1;
    const now = Date.now();
    this.ctx.storage.transactionSync(() => {
      this.#sql.exec(
        `INSERT INTO policy (id, version, document, updated_at, updated_by) VALUES (1, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET version = excluded.version, document = excluded.document,
           updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
        version, JSON.stringify(r.document), now, opts.actor,
      );
      this.#audit.record({ kind: AUDIT_KIND[op.op], actor: opts.actor, subject: r.subject, old: r.old, new: r.new, detail: `version ${current.version} -> ${version}` }, now);
    });
    const warnings = policyWarnings(r.document);
    for (const w of warnings) log(this.env, "warn", "policy.warning", { version, warning: w });
    // Every live session has the new policy before the change is answered: it applies to new pairs at once.
    await this.#push({ version, document: r.document, updatedAt: now, updatedBy: opts.actor });
    return { ok: true, version, document: r.document, warnings, created: r.created, enforcement: await this.#enforce(r.document) };
  }

  /**
   * Pushes a new policy to every subscribed session, in parallel, each given at most PUSH_MS (a hung
   * session must not hold the admin request; it reads the policy again when it next starts). A
   * session that says it is over is forgotten; one that failed to answer is kept for the next change.
   */
  async #push(policy: PolicySnapshot): Promise<void> {
    const ids = all(this.#sql, "SELECT session_id FROM policy_subscribers").map((r) => String(r.session_id));
    await Promise.all(
      ids.map(async (id) => {
        const live = await withDeadline(Promise.resolve(this.#session(id).policyChanged?.(policy)), PUSH_MS).catch(() => undefined);
        if (live === false) this.#sql.exec("DELETE FROM policy_subscribers WHERE session_id = ?", id);
      }),
    );
  }

  /**
   * Issue 5: a change that now refuses a peer ends its pairs at once. Every indexed pair is
   * re-evaluated with the transport facts its session reported; refused ones are revoked there.
   */
  async #enforce(doc: PolicyDocument): Promise<Enforcement> {
    const targets = new Map<string, { sessionId: string; local: string; remote: string; reason: RevokeReason }>();
    for (const p of this.#index.activePairs()) {
      // Without the session's transport facts only allow/deny is re-judged: a level change never
      // revokes a pair on a stream whose TLS state is unknown here.
      const transport = p.known ? { encrypted: p.tls, authenticated: p.tlsAuthenticated } : { encrypted: true, authenticated: true };
      const d = evaluatePair(doc, { local: p.local, remote: p.remote, direction: p.direction, transport });
      // revokePair drops (local, remote) in every direction on that stream: one call per session and pair.
      if (!d.allowed) targets.set(`${p.sessionId} ${p.local} ${p.remote}`, { sessionId: p.sessionId, local: p.local, remote: p.remote, reason: { condition: d.condition, text: d.text, actor: "policy" } });
    }
    return this.#revoke([...targets.values()]);
  }

  async #revoke(targets: { sessionId: string; local: string; remote: string; reason: RevokeReason }[]): Promise<Enforcement> {
    const out: Enforcement = { revoked: [], failed: [] };
    await Promise.all(
      targets.map(async ({ sessionId, local, remote, reason }) => {
        try {
          await this.#session(sessionId).revokePair(local, remote, reason);
        } catch (err) {
          out.failed.push({ sessionId, local, remote, error: errorText(err) });
          return;
        }
        this.#index.dropPairBothWays(sessionId, local, remote);
        out.revoked.push({ sessionId, local, remote, condition: reason.condition });
        this.#audit.record({ kind: "pair.revoked", actor: reason.actor, subject: `${local}<->${remote}`, detail: `session ${sessionId}: ${reason.condition}: ${reason.text}` });
      }),
    );
    return out;
  }

  // ---- reports from sessions (ControlPlaneRpc) -------------------------------------------------

  async reportSession(info: SessionInfo): Promise<void> {
    this.#index.upsertSession(info);
  }

  async sessionClosed(id: string, _condition?: string): Promise<void> {
    this.ctx.storage.transactionSync(() => {
      this.#index.dropSession(id);
      this.#sql.exec("DELETE FROM policy_subscribers WHERE session_id = ?", id);
    });
  }

  async reportPair(sessionId: string, pair: PairReport): Promise<void> {
    this.#index.upsertPair(sessionId, pair);
  }

  async pairRemoved(sessionId: string, pair: PairKey): Promise<void> {
    this.#index.dropPair(sessionId, pair);
  }

  async recordAudit(event: AuditEventInput): Promise<void> {
    this.#audit.record(event);
  }

  async observe(events: MetricEvent[]): Promise<void> {
    this.#metrics.observe(events);
  }

  async reportPeerAttempt(attempt: PeerAttempt): Promise<void> {
    this.#index.recordAttempt(attempt);
  }

  async report(sessionId: string, calls: Array<[ReportMethod, unknown[]]>): Promise<void> {
    await this.reportMany([[sessionId, calls]]);
  }

  /**
   * Several sessions' reports at once (what sessions send, coalesced per caller). Applied as their
   * final effect (control-plane/report-batch.ts): one upsert per session and pair row and one per
   * metric series, however many reports touched them.
   */
  async reportMany(batches: Array<[string, Array<[ReportMethod, unknown[]]>]>): Promise<void> {
    const batch = new ReportBatch(this.#index, this.#metrics, this);
    for (const [sessionId, calls] of batches) {
      this.#reportCalls.set(sessionId, (this.#reportCalls.get(sessionId) ?? 0) + 1);
      if (this.#reportCalls.size > 10_000) this.#reportCalls.delete(this.#reportCalls.keys().next().value!);
      for (const [method, args] of calls) {
        // Only the report methods: a batch names what to call, so it must not reach anything else.
        if (!(REPORT_METHODS as readonly string[]).includes(method)) continue;
        const target = method === "reportSession" || method === "reportPair" || method === "observe" || method === "sessionClosed" || method === "pairRemoved" ? batch : this;
        await (target[method as keyof typeof target] as (...a: unknown[]) => unknown).apply(target, args);
      }
    }
    batch.flush();
  }

  /** report() calls from session `id` (diagnostics, tests: one per engine step, not one per report). */
  async reportCalls(id: string): Promise<number> {
    return this.#reportCalls.get(id) ?? 0;
  }

  // ---- queries and operator actions for the admin API -----------------------------------------

  async listPairs(filter: PairFilter, cursor: string | undefined, limit: number): Promise<Page<PairEntry> | Failure> {
    return this.#index.listPairs(filter, cursor, limit) ?? badCursor(cursor ?? "");
  }

  async pairsBetween(local: string, remote: string): Promise<PairEntry[]> {
    return this.#index.pairsBetween(local, remote);
  }

  /** DELETE /pairs/{local}/{remote}: drop the pair on every stream that has it. */
  async revokePair(local: string, remote: string, actor: string): Promise<Enforcement | Failure> {
    const sessions = this.#index.sessionsWithPair(local, remote);
    if (sessions.length === 0) return { ok: false, status: 404, title: "No such pair", detail: `no stream carries the domain pair ${local} <-> ${remote}` };
    const reason: RevokeReason = { condition: "policy-violation", text: `the domain pair ${local} <-> ${remote} was revoked by the operator`, actor };
    return this.#revoke(sessions.map((sessionId) => ({ sessionId, local, remote, reason })));
  }

  async listSessions(cursor: string | undefined, limit: number): Promise<Page<SessionInfo & { pairs: number }> | Failure> {
    return this.#index.listSessions(cursor, limit) ?? badCursor(cursor ?? "");
  }

  async getSession(id: string): Promise<(SessionInfo & { pairs: PairEntry[] }) | null> {
    const indexed = this.#index.getSession(id);
    if (indexed) return indexed;
    const live = await this.#live(id);
    if (!live) return null;
    const now = new Date().toISOString();
    return { ...live, pairs: live.pairs.map((p) => ({ ...p, via: p.via ?? null, sessionId: id, updatedAt: now })) };
  }

  /** DELETE /sessions/{id}: the session closes with the operator's stream error and bounces its queue. */
  async closeSession(id: string, condition: StreamErrorCondition, text: string | undefined, actor: string): Promise<{ ok: true } | Failure> {
    if (!this.#index.hasSession(id) && !(await this.#live(id))) return { ok: false, status: 404, title: "No such session", detail: `no live session has id '${id}'` };
    try {
      await this.#session(id).closeStream(condition, text);
    } catch (err) {
      return { ok: false, status: 502, title: "Session did not answer", detail: `closing session '${id}' failed: ${errorText(err)}` };
    }
    this.ctx.storage.transactionSync(() => this.#index.dropSession(id));
    this.#audit.record({ kind: "session.closed", actor, subject: id, detail: text ? `${condition}: ${text}` : condition });
    return { ok: true };
  }

  /**
   * DELETE /peers/{domain}/sessions (ejabberd's stop_s2s_connections, Prosody's s2s:close): every
   * stream whose peer is `domain` closes with the operator's stream error; on a stream it only shares
   * (a multiplexed stream of another peer carrying a pair with it), its pairs are revoked instead, so
   * the other domains' pairs carry on (a stream left with no pair closes). Audited as one entry.
   */
  async closePeerSessions(domain: string, condition: StreamErrorCondition, text: string | undefined, actor: string): Promise<PeerClose> {
    const own = this.#index.sessionsOfPeer(domain);
    const out: PeerClose = { domain, condition, closed: [], revoked: [], failed: [] };
    await Promise.all(
      own.map(async (id) => {
        try {
          await this.#session(id).closeStream(condition, text);
        } catch (err) {
          out.failed.push({ sessionId: id, error: errorText(err) });
          return;
        }
        this.ctx.storage.transactionSync(() => this.#index.dropSession(id));
        out.closed.push(id);
      }),
    );
    const reason: RevokeReason = { condition: "policy-violation", text: text ?? `the operator closed every stream with ${domain}`, actor };
    const shared = this.#index.pairsWithRemote(domain).filter((p) => !own.includes(p.sessionId));
    const e = await this.#revoke(shared.map(({ sessionId, local }) => ({ sessionId, local, remote: domain, reason })));
    out.revoked = e.revoked;
    out.failed.push(...e.failed.map((f) => ({ sessionId: f.sessionId, error: f.error })));
    out.closed.sort();
    this.#audit.record({
      kind: "peer.sessions-closed",
      actor,
      subject: domain,
      detail: `${condition}${text ? `: ${text}` : ""}; closed ${out.closed.length} stream(s)${out.closed.length ? ` (${out.closed.join(", ")})` : ""}, revoked ${out.revoked.length} pair(s) on shared streams, ${out.failed.length} failed`,
    });
    return out;
  }

  async listAudit(cursor: string | undefined, limit: number, filter: AuditFilter = {}): Promise<Page<AuditEntry> | Failure> {
    return this.#audit.list(cursor, limit, filter) ?? badCursor(cursor ?? "");
  }

  /** GET /peers/{domain}: what policy says, what is live, and the last attempts each way. */
  async peer(domain: string) {
    const { document } = this.#readPolicy();
    const { level, rule } = effectiveLevel(document, domain);
    const denied = rule?.rule.action === "deny" || (document.allowlistOnly && rule?.rule.action !== "allow");
    return { domain, policy: { level, rule: rule ? { pattern: rule.pattern, ...rule.rule } : null, denied }, ...this.#index.peer(domain) };
  }

  async metrics(): Promise<string> {
    return this.#metrics.render(this.#index, this.#readPolicy().version);
  }

  /**
   * Inbound streams are StreamSession DOs named by id; the outbound one to X is RemoteDomain X
   * ("remote:X"); verification links are AuthorityLink A for authority address A
   * ("authority:A", and "authority:A#D" for a link of domain D's own in that same DO).
   */
  #session(id: string): StreamSessionRpc {
    if (id.startsWith(OUTBOUND_PREFIX)) {
      const ns = this.env.REMOTE_DOMAIN;
      return ns.get(ns.idFromName(id.slice(OUTBOUND_PREFIX.length))) as unknown as StreamSessionRpc;
    }
    if (id.startsWith(AUTHORITY_PREFIX)) {
      const ns = this.env.AUTHORITY_LINK;
      const [address, link] = id.slice(AUTHORITY_PREFIX.length).split("#") as [string, string | undefined];
      const al = ns.get(ns.idFromName(address));
      return {
        revokePair: (local, remote, reason) => al.revokePair(local, remote, reason, link ?? ""),
        closeStream: (condition, text) => al.closeStream(condition, text, link ?? ""),
        describe: () => al.describe(link ?? ""),
      } as StreamSessionRpc;
    }
    // An inbound stream: alone in its DO, or one of a multiplexed link's (lib/stubs.ts).
    return inboundStreamRpc(this.env, id) as unknown as StreamSessionRpc;
  }

  /** A session the index does not know may still be live (reports are fire-and-forget): ask it. */
  async #live(id: string): Promise<(SessionInfo & { pairs: PairReport[] }) | null> {
    try {
      return await this.#session(id).describe();
    } catch {
      return null;
    }
  }
}
