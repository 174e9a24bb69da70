// Issue 10.9: no policy lookup reaches Object.prototype, and `__proto__` is never a key of a policy
// document, a patch or a rule map (it is refused by name, not silently dropped or made a prototype).
import { describe, expect, it } from "vitest";
import { applyPolicyOp, DEFAULT_POLICY, matchRule, mergePatch, normalizePattern, parsePolicy, ruleFor } from "../../src/policy/index.js";
import { normalizeDomain } from "../../src/types.js";

describe("prototype keys in the policy", () => {
  it("rule lookups see own keys only: constructor, toString, hasOwnProperty match no rule", () => {
    const domains = JSON.parse('{"example.org":{"action":"deny"}}');
    for (const name of ["constructor", "toString", "hasOwnProperty", "__proto__", "valueOf"]) {
      expect(ruleFor(domains, name)).toBeUndefined();
      expect(matchRule(domains, name)).toBeUndefined();
      expect(matchRule(domains, `a.${name}`)).toBeUndefined();
    }
    expect(matchRule(domains, "example.org")?.rule).toEqual({ action: "deny" });
  });

  it("a rule named constructor is an ordinary rule", () => {
    const r = applyPolicyOp(DEFAULT_POLICY, { op: "put-rule", pattern: "constructor", rule: { action: "deny" } });
    expect(r).toMatchObject({ ok: true, created: true, new: { action: "deny" } });
    const doc = (r as { document: typeof DEFAULT_POLICY }).document;
    expect(matchRule(doc.domains, "constructor")?.rule).toEqual({ action: "deny" });
    expect(applyPolicyOp(DEFAULT_POLICY, { op: "delete-rule", pattern: "constructor" })).toMatchObject({ ok: false, status: 404 });
  });

  it("__proto__ is no pattern, and a __proto__ key anywhere in a document or patch is refused by name", () => {
    expect(normalizePattern("__proto__")).toBeUndefined();
    expect(applyPolicyOp(DEFAULT_POLICY, { op: "put-rule", pattern: "__proto__", rule: { action: "allow" } })).toMatchObject({ ok: false, status: 422 });
    const bad = parsePolicy(JSON.parse('{"domains":{"__proto__":{"action":"allow","level":"permissive"}}}'));
    expect(bad).toEqual({ ok: false, issues: [{ path: "domains.__proto__", message: "a key named __proto__ is not accepted" }] });
    const patched = applyPolicyOp(DEFAULT_POLICY, { op: "patch", patch: JSON.parse('{"domains":{"__proto__":{"evil.example":{"action":"allow"}}}}') });
    expect(patched).toMatchObject({ ok: false, status: 422 });
    expect((patched as { detail: string }).detail).toContain("domains.__proto__");
  });

  it("mergePatch keeps __proto__ a key: what it merges never gets a new prototype", () => {
    const out = mergePatch({ a: 1 }, JSON.parse('{"__proto__":{"polluted":true}}')) as Record<string, unknown>;
    expect(Object.hasOwn(out, "__proto__")).toBe(true);
    expect(out.polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("a percent sign is never part of a domain (the URL host parser would decode %41 to 'a')", () => {
    expect(normalizeDomain("%41")).toBeUndefined();
    expect(normalizeDomain("peer%2etest")).toBeUndefined();
    expect(normalizePattern("*.%41.example")).toBeUndefined();
  });
});
