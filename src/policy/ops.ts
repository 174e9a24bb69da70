// The policy changes the admin API can make, applied to a document without I/O: what the ControlPlane
// stores, plus the subject and old/new values its audit log records. Validation is the document
// schema's, so every route refuses exactly what PUT /policy would.

import { normalizePattern, parsePolicy, type PolicyDocument, type PolicyIssue } from "./document.js";
import { mergePatch } from "./patch.js";
import { ruleFor } from "./match.js";

export type PolicyOp =
  | { op: "replace"; document: unknown }
  | { op: "patch"; patch: unknown }
  | { op: "put-rule"; pattern: string; rule: unknown }
  | { op: "delete-rule"; pattern: string };

export const AUDIT_KIND = {
  replace: "policy.replaced",
  patch: "policy.patched",
  "put-rule": "policy.rule-set",
  "delete-rule": "policy.rule-deleted",
} as const;

export type OpResult =
  | { ok: true; document: PolicyDocument; created: boolean; subject?: string; old: unknown; new: unknown }
  | { ok: false; status: 404 | 422; title: string; detail: string; issues?: PolicyIssue[] };

export function applyPolicyOp(current: PolicyDocument, op: PolicyOp): OpResult {
  if (op.op === "replace" || op.op === "patch") {
    const parsed = parsePolicy(op.op === "replace" ? op.document : mergePatch(current, op.patch));
    if (!parsed.ok) return invalid(parsed.issues, "");
    return { ok: true, document: parsed.document, created: false, old: current, new: parsed.document };
  }
  const pattern = normalizePattern(op.pattern);
  if (!pattern) return { ok: false, status: 422, title: "Invalid domain pattern", detail: `'${op.pattern}' is not a domain or *.domain pattern` };
  // Null prototype and own-key reads: `constructor` is a rule like any other, never Object's.
  const domains: Record<string, unknown> = Object.assign(Object.create(null), current.domains);
  const old = ruleFor(current.domains, pattern) ?? null;
  if (op.op === "delete-rule") {
    if (old === null) return { ok: false, status: 404, title: "No such rule", detail: `the policy has no rule for '${pattern}'` };
    delete domains[pattern];
  } else {
    domains[pattern] = op.rule;
  }
  const parsed = parsePolicy({ ...current, domains });
  // Issues about this rule are reported relative to it (the body of PUT /policy/domains/{d}).
  if (!parsed.ok) return invalid(parsed.issues, `domains.${pattern}.`);
  return { ok: true, document: parsed.document, created: old === null, subject: pattern, old, new: ruleFor(parsed.document.domains, pattern) ?? null };
}

function invalid(issues: PolicyIssue[], strip: string): OpResult {
  const detail = issues.map((i) => `${strip && i.path.startsWith(strip) ? i.path.slice(strip.length) : i.path}: ${i.message}`).join("; ");
  return { ok: false, status: 422, title: "Invalid policy", detail, issues };
}
