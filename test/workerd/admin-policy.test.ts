// Policy routes: versioning (ETag / If-Match -> 412), validation (422 with the field), the rule
// routes, and the audit trail each change leaves. One ControlPlane per file: tests run in order.
import { describe, expect, it } from "vitest";
import { admin, problemOf } from "./admin-helpers.js";

type PolicyState = { version: number; document: Record<string, unknown> & { domains: Record<string, unknown>; level: string }; warnings: string[] };

describe("GET/PUT/PATCH /admin/v1/policy", () => {
  it("starts at version 0 with the default policy: verified, no rules", async () => {
    const res = await admin("/policy");
    expect(res.status).toBe(200);
    expect(res.headers.get("etag")).toBe('"0"');
    const p = await res.json<PolicyState>();
    expect(p).toMatchObject({ version: 0, document: { level: "verified", allowPermissive: false, allowlistOnly: false, domains: {} }, warnings: [] });
  });

  it("PUT replaces the document, bumps the version, and normalizes rule keys", async () => {
    const res = await admin("/policy", { method: "PUT", json: { level: "encrypted", domains: { "Legacy.Example": { action: "allow", level: "verified" } } } });
    expect(res.status).toBe(200);
    expect(res.headers.get("etag")).toBe('"1"');
    const p = await res.json<PolicyState & { enforcement: unknown }>();
    expect(p.version).toBe(1);
    expect(p.document.domains).toEqual({ "legacy.example": { action: "allow", level: "verified" } });
    expect(p.enforcement).toEqual({ revoked: [], failed: [] });
    expect((await (await admin("/policy")).json<PolicyState>()).document.level).toBe("encrypted");
  });

  it("422 names the bad field and changes nothing", async () => {
    const res = await admin("/policy", { method: "PUT", json: { level: "paranoid" } });
    expect(res.status).toBe(422);
    expect((await problemOf(res)).detail).toMatch(/^body\.level: /);
    const bad = await admin("/policy", { method: "PUT", json: { domains: { "not a domain": { action: "deny" } } } });
    expect(bad.status).toBe(422);
    expect((await problemOf(bad)).detail).toContain("'not a domain' is not a domain or *.domain pattern");
    expect((await admin("/policy")).headers.get("etag")).toBe('"1"');
  });

  it("refuses permissive unless allowPermissive, and warns when it is enabled", async () => {
    const refused = await admin("/policy", { method: "PATCH", json: { level: "permissive" } });
    expect(refused.status).toBe(422);
    expect((await problemOf(refused)).detail).toBe("level: permissive federation is refused unless allowPermissive is true");
    const ok = await admin("/policy", { method: "PATCH", json: { level: "permissive", allowPermissive: true } });
    expect(ok.status).toBe(200);
    const p = await ok.json<PolicyState>();
    expect(p.version).toBe(2);
    expect(p.warnings).toEqual([expect.stringContaining("can be spoofed")]);
    const back = await admin("/policy", { method: "PATCH", json: { level: "verified", allowPermissive: false } });
    expect((await back.json<PolicyState>()).version).toBe(3);
  });

  it("If-Match: a stale version gets 412 (RFC 9110 §13.1.1) and changes nothing; the current one passes", async () => {
    const stale = await admin("/policy", { method: "PATCH", headers: { "if-match": '"1"' }, json: { allowlistOnly: true } });
    expect(stale.status).toBe(412);
    expect((await problemOf(stale)).detail).toBe("If-Match names version 1 but the policy is at version 3; GET it and retry");
    const cur = await admin("/policy", { method: "PATCH", headers: { "if-match": '"3"' }, json: { knobs: { bidi: false } } });
    expect(cur.status).toBe(200);
    expect(cur.headers.get("etag")).toBe('"4"');
    const bad = await admin("/policy", { method: "PATCH", headers: { "if-match": "yesterday" }, json: {} });
    expect(bad.status).toBe(422);
  });

  it("PATCH is a JSON merge patch: null deletes a rule, other knobs stay", async () => {
    const res = await admin("/policy", {
      method: "PATCH",
      headers: { "content-type": "application/merge-patch+json" },
      json: { domains: { "legacy.example": null, "*.spam.example": { action: "deny" } }, knobs: { maxPairsPerStream: 50 } },
    });
    expect(res.status).toBe(200);
    const p = await res.json<PolicyState & { document: { knobs: Record<string, unknown> } }>();
    expect(p.document.domains).toEqual({ "*.spam.example": { action: "deny" } });
    expect(p.document.knobs).toMatchObject({ bidi: false, maxPairsPerStream: 50, onPairFailure: "keep-stream" });
  });

  it("PATCH refuses malformed JSON (400) and a non-object (422)", async () => {
    const broken = await admin("/policy", { method: "PATCH", headers: { "content-type": "application/json" }, body: "{level:" });
    expect(broken.status).toBe(400);
    await problemOf(broken);
    const arr = await admin("/policy", { method: "PATCH", json: [1] });
    expect(arr.status).toBe(422);
  });
});

describe("/admin/v1/policy/domains/{domain}", () => {
  it("PUT creates (201) then replaces (200) a rule; GET reads it", async () => {
    const created = await admin("/policy/domains/Partner.Example", { method: "PUT", json: { action: "allow", level: "trusted", note: "bank" } });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ pattern: "partner.example", rule: { action: "allow", level: "trusted", note: "bank" } });
    const replaced = await admin("/policy/domains/partner.example", { method: "PUT", json: { action: "allow", level: "encrypted" } });
    expect(replaced.status).toBe(200);
    const got = await admin("/policy/domains/partner.example");
    expect(got.status).toBe(200);
    expect(await got.json()).toMatchObject({ pattern: "partner.example", rule: { action: "allow", level: "encrypted" } });
  });

  it("wildcard patterns work in the path, literal or percent-encoded", async () => {
    const res = await admin("/policy/domains/%2A.chat.example", { method: "PUT", json: { action: "deny" } });
    expect(res.status).toBe(201);
    expect((await (await admin("/policy/domains/*.chat.example")).json<{ pattern: string }>()).pattern).toBe("*.chat.example");
  });

  it("404 for a missing rule says what governs the domain instead", async () => {
    const res = await admin("/policy/domains/a.spam.example");
    expect(res.status).toBe(404);
    expect((await problemOf(res)).detail).toBe("the policy has no rule for 'a.spam.example'; it is governed by rule '*.spam.example' (deny)");
    const none = await admin("/policy/domains/other.example");
    expect((await problemOf(none)).detail).toContain("the global level 'verified'");
  });

  it("422 for a bad pattern or rule body, 404 to delete a missing rule", async () => {
    expect((await admin("/policy/domains/a..b", { method: "PUT", json: { action: "deny" } })).status).toBe(422);
    const deny = await admin("/policy/domains/x.example", { method: "PUT", json: { action: "deny", level: "trusted" } });
    expect(deny.status).toBe(422);
    expect((await problemOf(deny)).detail).toContain("a deny rule takes no level");
    const unknown = await admin("/policy/domains/x.example", { method: "PUT", json: { action: "block" } });
    expect(unknown.status).toBe(422);
    expect((await problemOf(unknown)).detail).toMatch(/^body\.action: /);
    const missing = await admin("/policy/domains/never.example", { method: "DELETE" });
    expect(missing.status).toBe(404);
    expect((await problemOf(missing)).detail).toBe("the policy has no rule for 'never.example'");
  });

  it("DELETE removes a rule (with If-Match honoured)", async () => {
    const v = Number((await admin("/policy")).headers.get("etag")!.replace(/"/g, ""));
    expect((await admin("/policy/domains/partner.example", { method: "DELETE", headers: { "if-match": `"${v - 1}"` } })).status).toBe(412);
    const res = await admin("/policy/domains/partner.example", { method: "DELETE", headers: { "if-match": `"${v}"` } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ pattern: "partner.example", rule: null, version: v + 1 });
    expect((await admin("/policy/domains/partner.example")).status).toBe(404);
  });
});

describe("GET /admin/v1/audit", () => {
  type Page = { items: { seq: number; kind: string; actor: string; subject: string | null; old: unknown; new: unknown; detail: string }[]; nextCursor: string | null };

  it("records every change, newest first, with actor, old and new value", async () => {
    await admin("/policy/domains/audited.example", { method: "PUT", headers: { "x-admin-actor": "alice" }, json: { action: "deny" } });
    const page = await (await admin("/audit?limit=2")).json<Page>();
    expect(page.items[0]).toMatchObject({ kind: "policy.rule-set", actor: "admin:alice", subject: "audited.example", old: null, new: { action: "deny" } });
    expect(page.items[1]).toMatchObject({ kind: "policy.rule-deleted", subject: "partner.example", old: { action: "allow", level: "encrypted" }, new: null });
    expect(page.items[0]!.seq).toBeGreaterThan(page.items[1]!.seq);
    expect(page.nextCursor).toEqual(expect.any(String));
  });

  it("paginates with the cursor until the first change, and filters by kind", async () => {
    const seen: number[] = [];
    let cursor: string | null = "";
    while (cursor !== null) {
      const page: Page = await (await admin(`/audit?limit=3${cursor ? `&cursor=${cursor}` : ""}`)).json<Page>();
      seen.push(...page.items.map((i) => i.seq));
      cursor = page.nextCursor;
    }
    expect(seen).toEqual([...seen].sort((a, b) => b - a));
    expect(new Set(seen).size).toBe(seen.length);
    // The PUT, three PATCHes (permissive on, off, bidi) and the merge patch, two rule PUTs, etc.
    const first = await (await admin("/audit?kind=policy.replaced")).json<Page>();
    expect(first.items).toHaveLength(1);
    expect(first.items[0]).toMatchObject({ old: { level: "verified", domains: {} }, new: { level: "encrypted" }, detail: "version 0 -> 1" });
    expect(seen[seen.length - 1]).toBe(first.items[0]!.seq);
  });

  it("422 for a cursor it did not issue, or a bad limit", async () => {
    const res = await admin("/audit?cursor=bm9wZQ");
    expect(res.status).toBe(422);
    expect((await problemOf(res)).detail).toBe("'bm9wZQ' is not a cursor this API returned");
    expect((await admin("/audit?limit=0")).status).toBe(422);
  });
});
