import { describe, expect, it } from "vitest";
import {
  DEFAULT_POLICY,
  applyPolicyOp,
  effectiveKnobs,
  evaluatePair,
  matchRule,
  mergePatch,
  parsePolicy,
  policyWarnings,
  tlsRequired,
  type PolicyDocument,
  type PolicyDocumentInput,
  type TransportFacts,
} from "../../src/policy/index.js";

const PLAIN: TransportFacts = { encrypted: false, authenticated: false };
const TLS: TransportFacts = { encrypted: true, authenticated: false };
const PKIX: TransportFacts = { encrypted: true, authenticated: true };

function doc(input: PolicyDocumentInput): PolicyDocument {
  const r = parsePolicy(input);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.document;
}

const q = (remote: string, transport: TransportFacts) =>
  ({ local: "edge.test", remote, direction: "inbound", transport }) as const;

describe("policy document", () => {
  it("fills defaults: verified, no allowlist, knobs", () => {
    expect(doc({})).toEqual(DEFAULT_POLICY);
  });

  it("refuses permissive unless explicitly enabled, and warns when it is", () => {
    const r = parsePolicy({ level: "permissive" });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues).toEqual([{ path: "level", message: expect.stringContaining("allowPermissive") }]);
    const rule = parsePolicy({ domains: { "old.example": { action: "allow", level: "permissive" } } });
    expect(rule.ok).toBe(false);
    if (!rule.ok) expect(rule.issues[0]!.path).toBe("domains.old.example.level");
    const ok = doc({ level: "permissive", allowPermissive: true });
    expect(policyWarnings(ok)).toEqual([expect.stringContaining("spoofed")]);
    expect(policyWarnings(DEFAULT_POLICY)).toEqual([]);
  });

  it("normalizes rule keys and refuses bad or duplicate patterns", () => {
    expect(Object.keys(doc({ domains: { "Example.ORG.": { action: "deny" }, "*.Foo.test": { action: "allow" } } }).domains)).toEqual([
      "example.org",
      "*.foo.test",
    ]);
    for (const bad of ["ex ample.org", "*", "*.", "a.*.org", "1.2.3.4", "user@example.org"]) {
      const r = parsePolicy({ domains: { [bad]: { action: "deny" } } });
      expect(r.ok, bad).toBe(false);
    }
    const dup = parsePolicy({ domains: { "a.test": { action: "deny" }, "A.test": { action: "allow" } } });
    expect(dup.ok).toBe(false);
    if (!dup.ok) expect(dup.issues[0]!.message).toContain("same pattern");
  });

  it("refuses unknown fields, a level on a deny rule, bad knobs", () => {
    expect(parsePolicy({ levle: "verified" }).ok).toBe(false);
    expect(parsePolicy({ domains: { "a.test": { action: "deny", level: "trusted" } } }).ok).toBe(false);
    expect(parsePolicy({ knobs: { maxPairsPerStream: 0 } }).ok).toBe(false);
    expect(parsePolicy({ knobs: { keyFormulas: [] } }).ok).toBe(false);
    expect(parsePolicy({ knobs: { keyFormulas: ["md5"] } }).ok).toBe(false);
    expect(parsePolicy({ level: "paranoid" }).ok).toBe(false);
  });
});

describe("rule precedence (most specific wins)", () => {
  const d = doc({
    domains: {
      "example.org": { action: "allow", level: "trusted" },
      "*.example.org": { action: "deny" },
      "*.chat.example.org": { action: "allow", level: "encrypted" },
      "muc.chat.example.org": { action: "allow" },
    },
  });
  it.each([
    ["example.org", "example.org"],
    ["a.example.org", "*.example.org"],
    ["x.y.example.org", "*.example.org"],
    ["chat.example.org", "*.example.org"],
    ["rooms.chat.example.org", "*.chat.example.org"],
    ["a.b.chat.example.org", "*.chat.example.org"],
    ["muc.chat.example.org", "muc.chat.example.org"],
  ])("%s -> %s", (domain, pattern) => {
    expect(matchRule(d.domains, domain)?.pattern).toBe(pattern);
  });
  it("a wildcard does not match its parent, nor a look-alike suffix", () => {
    const w = doc({ domains: { "*.example.org": { action: "deny" } } });
    expect(matchRule(w.domains, "example.org")).toBeUndefined();
    expect(matchRule(w.domains, "badexample.org")).toBeUndefined();
    expect(matchRule(w.domains, "example.org.evil")).toBeUndefined();
  });
});

describe("evaluatePair: XEP-0238 levels", () => {
  it("verified accepts dialback over plaintext", () => {
    expect(evaluatePair(DEFAULT_POLICY, q("peer.test", PLAIN))).toMatchObject({ allowed: true, level: "verified", verification: "dialback" });
  });

  it("encrypted: without TLS policy-violation (XEP-0220 §2.4), with TLS dialback", () => {
    const d = doc({ level: "encrypted" });
    expect(evaluatePair(d, q("peer.test", PLAIN))).toMatchObject({
      allowed: false,
      condition: "policy-violation",
      reason: "tls-required",
      text: expect.stringContaining("TLS is required"),
    });
    expect(evaluatePair(d, q("peer.test", TLS))).toMatchObject({ allowed: true, verification: "dialback" });
  });

  it("trusted: dialback alone is not-authorized, no TLS is policy-violation, PKIX passes", () => {
    const d = doc({ level: "trusted" });
    expect(evaluatePair(d, q("peer.test", PLAIN))).toMatchObject({ allowed: false, condition: "policy-violation" });
    expect(evaluatePair(d, q("peer.test", TLS))).toMatchObject({
      allowed: false,
      condition: "not-authorized",
      reason: "certificate-required",
    });
    expect(evaluatePair(d, q("peer.test", PKIX))).toMatchObject({ allowed: true, verification: "certificate" });
  });

  it("permissive, once enabled, needs no verification", () => {
    const d = doc({ level: "permissive", allowPermissive: true });
    expect(evaluatePair(d, q("peer.test", PLAIN))).toMatchObject({ allowed: true, verification: "none" });
  });

  it("a rule's level overrides the global level both ways", () => {
    const d = doc({
      level: "encrypted",
      domains: { "legacy.test": { action: "allow", level: "verified" }, "bank.test": { action: "allow", level: "trusted" } },
    });
    expect(evaluatePair(d, q("legacy.test", PLAIN)).allowed).toBe(true);
    expect(evaluatePair(d, q("other.test", PLAIN)).allowed).toBe(false);
    expect(evaluatePair(d, q("bank.test", TLS))).toMatchObject({ allowed: false, condition: "not-authorized" });
  });

  it("deny refuses with forbidden whatever the transport, naming the rule", () => {
    const d = doc({ domains: { "*.spam.test": { action: "deny" } } });
    const r = evaluatePair(d, q("a.spam.test", PKIX));
    expect(r).toMatchObject({ allowed: false, condition: "forbidden", reason: "denied", text: expect.stringContaining("'*.spam.test'") });
    expect(evaluatePair(d, q("spam.test", PLAIN)).allowed).toBe(true);
  });

  it("allowlist-only: only allow rules federate; a more specific deny still wins", () => {
    const d = doc({
      allowlistOnly: true,
      domains: { "*.friends.test": { action: "allow" }, "bad.friends.test": { action: "deny" } },
    });
    expect(evaluatePair(d, q("a.friends.test", PLAIN)).allowed).toBe(true);
    expect(evaluatePair(d, q("bad.friends.test", PLAIN))).toMatchObject({ allowed: false, reason: "denied" });
    expect(evaluatePair(d, q("stranger.test", PLAIN))).toMatchObject({ allowed: false, condition: "forbidden", reason: "not-allowlisted" });
  });

  it("warns when allowlist-only has no allow rule", () => {
    expect(policyWarnings(doc({ allowlistOnly: true }))).toEqual([expect.stringContaining("every peer is refused")]);
  });
});

describe("tlsRequired (starttls <required/>)", () => {
  it("follows the effective level for a known peer", () => {
    const d = doc({ level: "encrypted", domains: { "legacy.test": { action: "allow", level: "verified" } } });
    expect(tlsRequired(d, "peer.test")).toBe(true);
    expect(tlsRequired(d, "legacy.test")).toBe(false);
  });
  it("for an unknown peer, requires TLS only if no domain could go without", () => {
    expect(tlsRequired(DEFAULT_POLICY)).toBe(false);
    expect(tlsRequired(doc({ level: "trusted" }))).toBe(true);
    expect(tlsRequired(doc({ level: "encrypted", domains: { "legacy.test": { action: "allow", level: "verified" } } }))).toBe(false);
    expect(tlsRequired(doc({ allowlistOnly: true, domains: { "a.test": { action: "allow", level: "encrypted" } } }))).toBe(true);
    expect(tlsRequired(doc({ level: "encrypted", domains: { "a.test": { action: "deny" } } }))).toBe(true);
  });
});

describe("knobs and merge patch", () => {
  it("policy knobs override environment defaults", () => {
    const defaults = { maxPendingPerStream: 1000, maxStanzaBytes: 262144, keyFormulas: ["xep0185"] as const };
    expect(effectiveKnobs(DEFAULT_POLICY, defaults)).toEqual({
      onPairFailure: "keep-stream",
      bidi: true,
      maxPairsPerStream: 10000,
      maxPendingPerStream: 1000,
      maxStanzaBytes: 262144,
      keyFormulas: ["xep0185"],
    });
    const d = doc({ knobs: { onPairFailure: "close-stream", bidi: false, maxPendingPerStream: 5, keyFormulas: ["xep0185", "originating-first"] } });
    expect(effectiveKnobs(d, defaults)).toMatchObject({ onPairFailure: "close-stream", bidi: false, maxPendingPerStream: 5, maxPairsPerStream: 10000, keyFormulas: ["xep0185", "originating-first"] });
  });

  it("RFC 7396: objects merge, null deletes, arrays replace", () => {
    const base = { level: "verified", domains: { "a.test": { action: "deny" }, "b.test": { action: "allow" } }, knobs: { keyFormulas: ["xep0185"] } };
    expect(mergePatch(base, { domains: { "a.test": null, "c.test": { action: "deny" } }, knobs: { keyFormulas: ["originating-first"] } })).toEqual({
      level: "verified",
      domains: { "b.test": { action: "allow" }, "c.test": { action: "deny" } },
      knobs: { keyFormulas: ["originating-first"] },
    });
  });
});

describe("applyPolicyOp (what the ControlPlane stores and audits)", () => {
  it("put-rule normalizes the pattern, says whether it created, and records old/new of the rule", () => {
    const r = applyPolicyOp(DEFAULT_POLICY, { op: "put-rule", pattern: "*.Spam.Test", rule: { action: "deny" } });
    expect(r).toMatchObject({ ok: true, created: true, subject: "*.spam.test", old: null, new: { action: "deny" } });
    if (!r.ok) return;
    const again = applyPolicyOp(r.document, { op: "put-rule", pattern: "*.spam.test", rule: { action: "allow" } });
    expect(again).toMatchObject({ ok: true, created: false, old: { action: "deny" }, new: { action: "allow" } });
  });

  it("reports a rule's errors relative to the rule, and unknown patterns as 404/422", () => {
    expect(applyPolicyOp(DEFAULT_POLICY, { op: "put-rule", pattern: "a.test", rule: { action: "allow", level: "permissive" } })).toMatchObject({
      ok: false,
      status: 422,
      detail: "level: permissive federation is refused unless allowPermissive is true",
    });
    expect(applyPolicyOp(DEFAULT_POLICY, { op: "delete-rule", pattern: "a.test" })).toMatchObject({ ok: false, status: 404 });
    expect(applyPolicyOp(DEFAULT_POLICY, { op: "delete-rule", pattern: "a b" })).toMatchObject({ ok: false, status: 422 });
  });

  it("replace and patch validate the whole document", () => {
    expect(applyPolicyOp(DEFAULT_POLICY, { op: "patch", patch: { knobs: { bidi: "yes" } } })).toMatchObject({ ok: false, status: 422, detail: expect.stringMatching(/^knobs\.bidi: /) });
    expect(applyPolicyOp(DEFAULT_POLICY, { op: "replace", document: { level: "trusted" } })).toMatchObject({ ok: true, document: { level: "trusted", domains: {} } });
  });
});
