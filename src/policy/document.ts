// The federation policy document: one JSON object, validated with zod, shared by the ControlPlane
// (which stores it), the admin API (which accepts it and generates OpenAPI from these schemas) and the
// engine's PolicyView (which evaluates it). Pure: no I/O.
//
// Levels are XEP-0238 §1's four levels of federation, weakest first.

import { z } from "zod";
import { normalizeDomain } from "../types.js";

export const LEVELS = ["permissive", "verified", "encrypted", "trusted"] as const;
export type Level = (typeof LEVELS)[number];

/** Numeric strength of a level, for "at least" comparisons. */
export const levelRank = (l: Level): number => LEVELS.indexOf(l);

export const levelSchema = z
  .enum(LEVELS)
  .describe(
    "XEP-0238 level: permissive (no verification; needs allowPermissive), verified (dialback), " +
      "encrypted (TLS before dialback), trusted (TLS with a certificate valid for the domain)",
  );

export const KEY_FORMULAS = ["xep0185", "originating-first"] as const;

export const domainRuleSchema = z
  .object({
    action: z.enum(["allow", "deny"]).describe("allow: federate (at `level` if given); deny: refuse every pair"),
    level: levelSchema.optional().describe("overrides the global level for matching domains (allow rules only)"),
    note: z.string().max(500).optional().describe("free text for operators"),
  })
  .strict()
  .refine((r) => !(r.action === "deny" && r.level !== undefined), {
    message: "a deny rule takes no level (it refuses every pair)",
    path: ["level"],
  });
export type DomainRule = z.infer<typeof domainRuleSchema>;

export const knobsSchema = z
  .object({
    onPairFailure: z
      .enum(["keep-stream", "close-stream"])
      .default("keep-stream")
      .describe("when one pair fails verification: keep the stream for the others (XEP-0220 §2.4) or close it"),
    bidi: z.boolean().default(true).describe("offer and request XEP-0288 bidirectional streams"),
    maxPairsPerStream: z.int().min(1).max(1_000_000).default(10_000).describe("verified domain pairs one stream may carry"),
    maxPendingPerStream: z
      .int()
      .min(1)
      .max(100_000)
      .optional()
      .describe("pending dialback verifications per stream; default MAX_PENDING_DIALBACK"),
    maxStanzaBytes: z
      .int()
      .min(1024)
      .max(16 * 1024 * 1024)
      .optional()
      .describe("largest accepted stanza in bytes; default MAX_STANZA_BYTES"),
    keyFormulas: z
      .array(z.enum(KEY_FORMULAS))
      .min(1)
      .optional()
      .describe("dialback key formulas accepted when verifying; default DIALBACK_KEY_FORMULAS"),
    xmppVersion: z
      .enum(["1.0", "0.9"])
      .optional()
      .describe(
        "1.0 (default); 0.9 makes the edge a pre-XMPP-1.0 server (XEP-0238 type 1): stream headers " +
          "without version, no stream features, no TLS offered or used (STARTTLS and XEP-0368 targets skipped), dialback only",
      ),
  })
  .strict();
export type Knobs = z.infer<typeof knobsSchema>;

/**
 * A rule key: a domain (`example.org`) or a wildcard for its subdomains (`*.example.org`). Never
 * `__proto__`, the one key a JavaScript object cannot hold as data (and no host name).
 */
export function normalizePattern(raw: string): string | undefined {
  const s = raw.trim().toLowerCase();
  if (s === "__proto__") return undefined;
  if (s.startsWith("*.")) {
    const d = normalizeDomain(s.slice(2));
    return d ? `*.${d}` : undefined;
  }
  return normalizeDomain(s);
}

export const policyDocumentSchema = z
  .object({
    level: levelSchema.default("verified"),
    allowPermissive: z
      .boolean()
      .default(false)
      .describe("must be true for any rule or global level to be permissive (unverified peers can be spoofed)"),
    allowlistOnly: z.boolean().default(false).describe("federate only with domains matched by an allow rule"),
    domains: z
      .record(z.string(), domainRuleSchema)
      .default({})
      .describe("per-domain rules keyed by domain or *.domain; the most specific match wins"),
    knobs: knobsSchema.default({
      onPairFailure: "keep-stream",
      bidi: true,
      maxPairsPerStream: 10_000,
    }),
  })
  .strict()
  .superRefine((doc, ctx) => {
    const seen = new Map<string, string>();
    for (const [key, rule] of Object.entries(doc.domains)) {
      const p = normalizePattern(key);
      if (!p) {
        ctx.addIssue({ code: "custom", path: ["domains", key], message: `'${key}' is not a domain or *.domain pattern` });
        continue;
      }
      const prev = seen.get(p);
      if (prev !== undefined) {
        ctx.addIssue({ code: "custom", path: ["domains", key], message: `'${key}' and '${prev}' are the same pattern` });
      }
      seen.set(p, key);
      if (rule.level === "permissive" && !doc.allowPermissive) {
        ctx.addIssue({
          code: "custom",
          path: ["domains", key, "level"],
          message: "permissive federation is refused unless allowPermissive is true",
        });
      }
    }
    if (doc.level === "permissive" && !doc.allowPermissive) {
      ctx.addIssue({
        code: "custom",
        path: ["level"],
        message: "permissive federation is refused unless allowPermissive is true",
      });
    }
  });

export type PolicyDocument = z.output<typeof policyDocumentSchema>;
export type PolicyDocumentInput = z.input<typeof policyDocumentSchema>;

export const DEFAULT_POLICY: PolicyDocument = Object.freeze({
  level: "verified",
  allowPermissive: false,
  allowlistOnly: false,
  domains: {},
  knobs: { onPairFailure: "keep-stream", bidi: true, maxPairsPerStream: 10_000 },
}) as PolicyDocument;

export interface PolicyIssue {
  path: string;
  message: string;
}

export type ParseResult = { ok: true; document: PolicyDocument } | { ok: false; issues: PolicyIssue[] };

/**
 * Validates untrusted input into a normalized document: rule keys become lowercase A-label patterns,
 * so `Example.ORG` and `example.org` can never be two rules.
 */
export function parsePolicy(input: unknown): ParseResult {
  // zod skips a `__proto__` key silently; refuse it by name instead (issue 10.9).
  const proto = protoKeyPath(input, "");
  if (proto !== undefined) return { ok: false, issues: [{ path: proto || "(document)", message: "a key named __proto__ is not accepted" }] };
  const r = policyDocumentSchema.safeParse(input);
  if (!r.success) return { ok: false, issues: r.error.issues.map(toIssue) };
  // A plain object, not a null-prototype one: documents cross Durable Object RPC, whose serializer
  // refuses null-prototype objects (DataCloneError). Lookups go through ruleFor (own keys only), and
  // no key can be `__proto__` (refused above and by normalizePattern).
  const domains: Record<string, DomainRule> = {};
  for (const [key, rule] of Object.entries(r.data.domains)) domains[normalizePattern(key)!] = rule;
  return { ok: true, document: { ...r.data, domains } };
}

/**
 * The path of the first own `__proto__` key anywhere in `value` (JSON.parse makes it an own data key),
 * or undefined. Iterative, so untrusted nesting cannot exhaust the stack.
 */
export function protoKeyPath(value: unknown, root = "body"): string | undefined {
  const stack: [unknown, string][] = [[value, root]];
  while (stack.length > 0) {
    const [v, path] = stack.pop()!;
    if (typeof v !== "object" || v === null) continue;
    for (const key of Object.keys(v)) {
      const at = Array.isArray(v) ? `${path}[${key}]` : path ? `${path}.${key}` : key;
      if (key === "__proto__") return at;
      stack.push([(v as Record<string, unknown>)[key], at]);
    }
  }
  return undefined;
}

function toIssue(i: z.core.$ZodIssue): PolicyIssue {
  return { path: i.path.map(String).join(".") || "(document)", message: i.message };
}

/** Operator-facing warnings for a valid document (returned by the API, never a refusal). */
export function policyWarnings(doc: PolicyDocument): string[] {
  const out: string[] = [];
  const spoofable = "accepts peers without any verification: any domain can be spoofed (XEP-0238 §1)";
  if (doc.level === "permissive") out.push(`global level 'permissive' ${spoofable}`);
  for (const [p, r] of Object.entries(doc.domains)) {
    if (r.level === "permissive") out.push(`rule '${p}' is 'permissive' and ${spoofable}`);
  }
  if (doc.allowlistOnly && !Object.values(doc.domains).some((r) => r.action === "allow")) {
    out.push("allowlistOnly is on and no allow rule exists: every peer is refused");
  }
  return out;
}
