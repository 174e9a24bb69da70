// The RPC contract between the ControlPlane Durable Object (policy, audit, index of live sessions and
// domain pairs) and the StreamSession Durable Objects. Both sides code against these types, so a change
// here is a change to both (policy helper: control-plane.ts; sessions helper: stream-session.ts).
//
// Addressing: a session's `id` is the string it reports in SessionInfo.id. The ControlPlane reaches an
// inbound one with env.STREAM_SESSION.idFromName(id), and the outbound stream to domain X, owned by
// the RemoteDomain DO, by the id "remote:X" with env.REMOTE_DOMAIN.idFromName(X). Both implement
// StreamSessionRpc. Sessions reach the ControlPlane
// with env.CONTROL_PLANE.get(env.CONTROL_PLANE.idFromName("control")).
//
// Policy in a session: `const { version, document } = await controlPlane.subscribePolicy(id)`, then
// `new DocumentPolicyView(document, { hosted: config.domains, limits: { maxPendingPerStream:
// config.limits.maxPendingPerStream } })` (src/policy/view.ts) is the engine's PolicyView. The
// subscription makes the ControlPlane push every later change to the session (policyChanged below)
// before the change's admin request is answered, so a change applies at once to new pairs without a
// read per pair (issue 11.6); for existing pairs the ControlPlane calls revokePair below. Report every session (reportSession on
// open and when counters change), every pair state change (reportPair / pairRemoved), sessionClosed,
// engine audit events (recordAudit: spoofing-attempt, ...), metrics (observe) and peerAttempts.

import type { StanzaErrorCondition, StreamErrorCondition } from "../../src/errors.js";

export const CONTROL_PLANE_NAME = "control";

export type SessionDirection = "inbound" | "outbound";
/** websocket: XEP-0468 at /xmpp-s2s; gateway: TCP through gateway/; tcp: our connect() outbound. */
export type SessionTransport = "websocket" | "gateway" | "tcp";

export interface SessionInfo {
  /** Stable name of the StreamSession DO (idFromName). */
  id: string;
  direction: SessionDirection;
  transport: SessionTransport;
  /** The remote domain the stream is with, once known (stream `from`/`to`). */
  peer?: string;
  /** Our hosted domain named on the stream header, once known. */
  local?: string;
  /** RFC 6120 stream id we (inbound) or the peer (outbound) assigned. */
  streamId?: string;
  /** TLS protects the stream (STARTTLS, direct TLS, wss:). */
  tls: boolean;
  /** A certificate valid for `peer` was verified (XEP-0238 "trusted"). */
  tlsAuthenticated?: boolean;
  /** XEP-0288 bidi negotiated. */
  bidi: boolean;
  /** ms since epoch. */
  openedAt: number;
  bytesIn: number;
  bytesOut: number;
  stanzasIn: number;
  stanzasOut: number;
}

/** none -> pending -> valid | invalid | error (XEP-0220 per-pair state). */
export type PairState = "pending" | "valid" | "invalid" | "error";

/**
 * A domain pair on one stream. direction inbound: `remote` sends to `local` over this stream (we are
 * the Receiving Server); outbound: `local` sends to `remote` (we are the Originating Server).
 */
export interface PairKey {
  local: string;
  remote: string;
  direction: SessionDirection;
}
export interface PairReport extends PairKey {
  state: PairState;
  /** Dialback error condition for state error/invalid. */
  condition?: string;
  /**
   * How the pair is authenticated: "dialback" (XEP-0220, claimed by db:result) or "sasl-external"
   * (RFC 6120 §6 with XEP-0178, the peer's certificate). Absent from a session's live view.
   */
  via?: PairVia;
}
export type PairVia = "dialback" | "sasl-external";

export type AuditKind =
  | "policy.replaced"
  | "policy.patched"
  | "policy.rule-set"
  | "policy.rule-deleted"
  | "pair.revoked"
  | "session.closed"
  | "peer.sessions-closed"
  | "spoofing-attempt"
  | "dialback.failed"
  | "other";

export interface AuditEventInput {
  kind: AuditKind;
  /** Who: "admin", "policy" (enforcement), or "session:<id>". */
  actor: string;
  /** What it is about, e.g. "edge.test->peer.test" or a session id. */
  subject?: string;
  old?: unknown;
  new?: unknown;
  detail?: string;
}

/** What sessions feed /admin/v1/metrics with (sessions and pairs gauges come from the index). */
export type MetricEvent =
  /** One dialback outcome: "valid", "invalid", or the dialback error condition. */
  | { kind: "dialback"; condition: string }
  /** Receiving role: time from db:result to the authority's answer. */
  | { kind: "verification-latency"; seconds: number }
  | { kind: "bounce"; condition: StanzaErrorCondition }
  /** POST /admin/v1/dialback/verify verdicts (the HTTP authority); counted apart from streams. */
  | { kind: "http-verify"; result: "valid" | "invalid" };

/** One connection attempt to or from a peer, for GET /admin/v1/peers/{domain}. */
export interface PeerAttempt {
  domain: string;
  direction: SessionDirection;
  /** ms since epoch. */
  at: number;
  outcome: "success" | "failure";
  /** Stream error, dialback error or bounce condition on failure. */
  condition?: string;
  /** Verification latency: ms from the pair's claim (pending) to this verdict, when the stream knows it. */
  latencyMs?: number;
  detail?: string;
}

export interface RevokeReason {
  /** Dialback/stream condition to use if the stream must close: policy-violation, forbidden, not-authorized. */
  condition: StreamErrorCondition | "forbidden";
  text: string;
  actor: string;
}

/** Implemented by StreamSession (sessions helper); called by the ControlPlane for fan-out. */
export interface StreamSessionRpc {
  /**
   * Drop the pair (both directions it exists in) at once. Queued stanzas for it bounce; a stream left
   * with no pair closes with stream error policy-violation (issue 5). Idempotent.
   */
  revokePair(local: string, remote: string, reason: RevokeReason): Promise<{ revoked: number; streamClosed: boolean }>;
  /** Close with this stream error (RFC 6120 §4.9); queued stanzas bounce. */
  closeStream(condition: StreamErrorCondition, text?: string): Promise<void>;
  /** Live view of the session, or null if it has ended. */
  describe(): Promise<(SessionInfo & { pairs: PairReport[] }) | null>;
  /**
   * A policy change, pushed to sessions that subscribed (ControlPlaneRpc.subscribePolicy). False:
   * this session is over (the ControlPlane forgets the subscription). Optional: only sessions that
   * subscribe implement it.
   */
  policyChanged?(policy: PolicySnapshot): Promise<boolean>;
}

export interface PolicySnapshot {
  version: number;
  /** A PolicyDocument (src/policy/document.ts), already validated. */
  document: import("../../src/policy/document.js").PolicyDocument;
  updatedAt: number;
  updatedBy: string;
}

/** Implemented by ControlPlane (policy helper); called by sessions. All methods are cheap. */
export interface ControlPlaneRpc {
  getPolicy(): Promise<PolicySnapshot>;
  /**
   * The current policy, and from now on every change pushed to session `sessionId` through its
   * policyChanged before the change is answered (until sessionClosed, or policyChanged says false).
   * Idempotent; kept in SQLite, so it survives the ControlPlane's eviction.
   */
  subscribePolicy(sessionId: string): Promise<PolicySnapshot>;
  /** Upsert (also to refresh counters). */
  reportSession(info: SessionInfo): Promise<void>;
  /** The stream ended: drops it and its pairs from the index. */
  sessionClosed(id: string, condition?: string): Promise<void>;
  reportPair(sessionId: string, pair: PairReport): Promise<void>;
  pairRemoved(sessionId: string, pair: PairKey): Promise<void>;
  recordAudit(event: AuditEventInput): Promise<void>;
  observe(events: MetricEvent[]): Promise<void>;
  reportPeerAttempt(attempt: PeerAttempt): Promise<void>;
  /**
   * Several of the reports above from session `sessionId` in one call (issue 11: one event and one
   * commit in the ControlPlane instead of one per report), carried out in order.
   */
  report(sessionId: string, calls: Array<[ReportMethod, unknown[]]>): Promise<void>;
  /**
   * The reports of several sessions in one call, in order: a Durable Object hosting many streams
   * (a multiplexed gateway link) sends its streams' reports together (issue 11: one event and one
   * commit per window instead of one per stream step).
   */
  reportMany(batches: Array<[string, Array<[ReportMethod, unknown[]]>]>): Promise<void>;
}

/** The ControlPlaneRpc reports a session may batch into report(). */
export const REPORT_METHODS = ["reportSession", "sessionClosed", "reportPair", "pairRemoved", "recordAudit", "observe", "reportPeerAttempt"] as const;
export type ReportMethod = (typeof REPORT_METHODS)[number];
