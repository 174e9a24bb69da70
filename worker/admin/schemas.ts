// Schemas of the admin API: the routes validate with these and /admin/v1/openapi.json is generated
// from them, so the document cannot drift from the behaviour. The policy document schemas themselves
// come from src/policy (shared with the ControlPlane and the engine).

import { z } from "@hono/zod-openapi";
import { domainRuleSchema, knobsSchema, levelSchema, policyDocumentSchema } from "../../src/policy/index.js";

export const Level = levelSchema.openapi("Level");
export const DomainRule = domainRuleSchema.openapi("DomainRule");
export const Knobs = knobsSchema.openapi("Knobs");
export const PolicyDocument = policyDocumentSchema.openapi("PolicyDocument");

export const Problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.int(),
    detail: z.string().optional(),
  })
  .openapi("Problem", { description: "RFC 9457 problem details" });

export const problemResponse = (description: string) => ({
  description,
  content: { "application/problem+json": { schema: Problem } },
});

export const Enforcement = z
  .object({
    revoked: z.array(z.object({ sessionId: z.string(), local: z.string(), remote: z.string(), condition: z.string() })),
    failed: z.array(z.object({ sessionId: z.string(), local: z.string(), remote: z.string(), error: z.string() })),
  })
  .openapi("Enforcement", { description: "Pairs revoked on live streams because the new policy refuses them" });

export const PolicyState = z
  .object({
    version: z.int().describe("0 until the first change; the ETag is this number"),
    document: PolicyDocument,
    updatedAt: z.string().nullable(),
    updatedBy: z.string(),
    warnings: z.array(z.string()),
  })
  .openapi("PolicyState");

export const PolicyChange = z
  .object({
    version: z.int(),
    document: PolicyDocument,
    warnings: z.array(z.string()),
    enforcement: Enforcement,
  })
  .openapi("PolicyChange");

export const RuleState = z
  .object({ pattern: z.string(), rule: DomainRule, version: z.int() })
  .openapi("RuleState");

export const RuleChange = z
  // A union, not DomainRule.nullable(): that was published as allOf [$ref DomainRule] with a null
  // type beside it, which `{"rule": null}` (every DELETE) violated. anyOf [$ref, null] is what it means.
  .object({ pattern: z.string(), rule: z.union([DomainRule, z.null()]).describe("the rule now in force for the pattern; null once deleted"), version: z.int(), enforcement: Enforcement })
  .openapi("RuleChange");

export const MergePatch = z
  .record(z.string(), z.unknown())
  .openapi("PolicyMergePatch", { description: "RFC 7396 JSON Merge Patch of PolicyDocument (null deletes a key)" });

export const Pair = z
  .object({
    local: z.string(),
    remote: z.string(),
    direction: z.enum(["inbound", "outbound"]),
    state: z.enum(["pending", "valid", "invalid", "error"]),
    condition: z.string().optional(),
    via: z
      .enum(["dialback", "sasl-external"])
      .nullable()
      .describe("how the pair is authenticated: dialback (XEP-0220) or sasl-external (RFC 6120 §6, XEP-0178 certificate); null when not known yet (a stream the index has not heard from)"),
    sessionId: z.string(),
    updatedAt: z.string(),
  })
  .openapi("Pair");

const page = <T extends z.ZodType>(item: T, name: string) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable() }).openapi(name);

export const PairPage = page(Pair, "PairPage");

export const Session = z
  .object({
    id: z.string(),
    direction: z.enum(["inbound", "outbound"]),
    transport: z.enum(["websocket", "gateway", "tcp"]),
    peer: z.string().optional(),
    local: z.string().optional(),
    streamId: z.string().optional(),
    tls: z.boolean(),
    tlsAuthenticated: z.boolean().optional(),
    bidi: z.boolean(),
    openedAt: z.number(),
    bytesIn: z.number(),
    bytesOut: z.number(),
    stanzasIn: z.number(),
    stanzasOut: z.number(),
  })
  .openapi("Session");

export const SessionSummary = Session.extend({ pairs: z.int() }).openapi("SessionSummary");
export const SessionDetail = Session.extend({ pairs: z.array(Pair) }).openapi("SessionDetail");
export const SessionPage = page(SessionSummary, "SessionPage");

export const AuditEntry = z
  .object({
    seq: z.int(),
    at: z.string(),
    actor: z.string(),
    kind: z.string(),
    subject: z.string().nullable(),
    old: z.unknown(),
    new: z.unknown(),
    detail: z.string().nullable(),
  })
  .openapi("AuditEntry");
export const AuditPage = page(AuditEntry, "AuditPage");

export const Cursor = z.string().max(512).optional().describe("nextCursor from the previous page");
export const Limit = z.coerce.number().int().min(1).max(500).default(100);

const STREAM_CONDITIONS = [
  "bad-format", "conflict", "connection-timeout", "host-gone", "host-unknown", "improper-addressing",
  "internal-server-error", "invalid-from", "not-authorized", "policy-violation", "remote-connection-failed",
  "reset", "resource-constraint", "see-other-host", "system-shutdown", "undefined-condition",
] as const;
export const StreamCondition = z.enum(STREAM_CONDITIONS).openapi("StreamErrorCondition", {
  description: "RFC 6120 §4.9.3 stream error condition sent to the peer",
});

export const DomainParam = z.string().min(1).max(256);

export const PeerAttempt = z.object({
  at: z.string(),
  outcome: z.string(),
  condition: z.string().nullable(),
  detail: z.string().nullable(),
  latencyMs: z
    .number()
    .nullable()
    .describe("verification latency of this verdict: ms from the domain pair's claim to the dialback verdict; null when the stream did not know it (no verdict, or the claim was before a hibernation)"),
});

export const PeerState = z
  .object({
    domain: z.string(),
    policy: z.object({ level: Level, rule: z.unknown().nullable(), denied: z.boolean() }),
    sessions: z.array(z.string()),
    pairs: z.array(Pair),
    inbound: z.array(PeerAttempt),
    outbound: z.array(PeerAttempt),
  })
  .openapi("PeerState");

export const PeerClose = z
  .object({
    domain: z.string(),
    condition: z.string().describe("the stream error the closed streams got"),
    closed: z.array(z.string()).describe("ids of the streams whose peer is the domain, now closed"),
    revoked: Enforcement.shape.revoked.describe("pairs with the domain revoked on streams of other peers (multiplexed)"),
    failed: z.array(z.object({ sessionId: z.string(), error: z.string() })).describe("sessions that did not answer; retry"),
  })
  .openapi("PeerClose");

export const CheckStep = z
  .object({
    step: z.enum(["policy", "resolve", "connect", "stream-open", "starttls", "dialback"]),
    ok: z.boolean(),
    ms: z.number().describe("duration of the step in milliseconds"),
    detail: z.string(),
    condition: z.string().optional().describe("stream error / dialback error / bounce condition on failure"),
    kind: z.enum(["dns", "refused", "timeout", "tls", "closed", "unknown"]).optional().describe("a failed connect, DNS or TLS step: what kind of failure"),
    fix: z.string().optional().describe("on failure: what to change so the step succeeds"),
  })
  .openapi("CheckStep");

export const CheckResult = z
  .object({
    domain: z.string(),
    from: z.string(),
    ok: z.boolean(),
    steps: z.array(CheckStep),
  })
  .openapi("PeerCheck");

export const CheckBody = z
  .object({ from: z.string().optional().describe("hosted domain to run dialback as; default the first hosted domain") })
  .strict()
  .openapi("PeerCheckRequest");

export const VerifyBody = z
  .object({
    receiving: z.string().min(1).describe("the Receiving Server's domain (the db:result's `to`, the db:verify's `from`)"),
    originating: z.string().min(1).describe("our hosted domain that originated the key (the db:verify's `to`)"),
    streamId: z.string().min(1).max(1024).describe("the stream id the Receiving Server sent (the db:verify's `id`)"),
    key: z.string().min(1).max(1024).describe("the dialback key to check"),
  })
  .strict()
  .openapi("DialbackVerifyRequest");

export const VerifyResult = z
  .object({ result: z.enum(["valid", "invalid"]) })
  .openapi("DialbackVerifyResult");
