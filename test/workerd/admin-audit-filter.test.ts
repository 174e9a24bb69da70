// GET /admin/v1/audit filters (issue 14, for the console's Audit page): kind, domain (named in the
// subject or detail, exactly: peer.test does not match xpeer.test), since/until (RFC 3339, inclusive), combined with the cursor.

import { describe, expect, it } from "vitest";
import { admin, problemOf } from "./admin-helpers.js";

type Page = { items: Array<{ seq: number; at: string; kind: string; subject: string | null; detail: string | null }>; nextCursor: string | null };
const list = async (q: string) => {
  const res = await admin(`/audit?${q}`);
  expect(res.status).toBe(200);
  return res.json<Page>();
};

describe("GET /admin/v1/audit filters", () => {
  it("filters by domain and time, and pages within the filter", async () => {
    const t0 = new Date(Date.now() - 1000).toISOString();
    for (const d of ["a.filter.example", "b.filter.example", "a.filter.example"]) {
      expect((await admin(`/policy/domains/${d}`, { method: "PUT", json: { action: "deny" } })).ok).toBe(true);
      expect((await admin(`/policy/domains/${d}`, { method: "DELETE" })).ok).toBe(true);
    }
    const a = await list("domain=a.filter.example");
    expect(a.items.length).toBe(4);
    expect(a.items.every((e) => `${e.subject} ${e.detail}`.includes("a.filter.example"))).toBe(true);
    const kind = await list("domain=a.filter.example&kind=policy.rule-deleted");
    expect(kind.items.map((e) => e.kind)).toEqual(["policy.rule-deleted", "policy.rule-deleted"]);
    // Paging keeps the filter: 4 entries, 3 then 1.
    const p1 = await list("domain=A.Filter.Example&limit=3");
    expect(p1.items.length).toBe(3);
    const p2 = await list(`domain=a.filter.example&limit=3&cursor=${encodeURIComponent(p1.nextCursor!)}`);
    expect(p2.items.length).toBe(1);
    expect(p2.nextCursor).toBeNull();

    expect((await list(`domain=b.filter.example&since=${encodeURIComponent(t0)}`)).items.length).toBe(2);
    expect((await list(`domain=b.filter.example&until=${encodeURIComponent(t0)}`)).items.length).toBe(0);
    const later = new Date(Date.now() + 60_000).toISOString();
    expect((await list(`since=${encodeURIComponent(later)}`)).items.length).toBe(0);
  });

  it("matches the domain exactly: not a longer name ending in it, a subdomain, or a name it begins", async () => {
    // Interleaved so that paging has to skip near-misses between the exact matches.
    for (const d of ["peer.exact.example", "xpeer.exact.example", "sub.peer.exact.example", "peer.exact.example.evil", "peer.exact.example"]) {
      expect((await admin(`/policy/domains/${d}`, { method: "PUT", json: { action: "deny" } })).ok).toBe(true);
    }
    const named = (e: Page["items"][number]) => `${e.subject} ${e.detail}`;
    const exact = await list("domain=peer.exact.example&kind=policy.rule-set");
    expect(exact.items.length).toBe(2);
    expect(exact.items.every((e) => /(^|[^a-z0-9.-])peer\.exact\.example($|[^a-z0-9.-])/.test(named(e)))).toBe(true);
    expect((await list("domain=xpeer.exact.example&kind=policy.rule-set")).items.length).toBe(1);
    expect((await list("domain=exact.example&kind=policy.rule-set")).items.length).toBe(0);
    // Paging one at a time skips the three near-misses between the two matches.
    const p1 = await list("domain=peer.exact.example&kind=policy.rule-set&limit=1");
    expect(p1.items.length).toBe(1);
    const p2 = await list(`domain=peer.exact.example&kind=policy.rule-set&limit=1&cursor=${encodeURIComponent(p1.nextCursor!)}`);
    expect(p2.items.length).toBe(1);
    expect(p2.items[0]!.seq).toBeLessThan(p1.items[0]!.seq);
    expect(p2.items[0]!.seq).toBeLessThan(p1.items[0]!.seq - 3);
    expect(p2.nextCursor).toBeNull();
  });

  it("refuses a time that is not RFC 3339 and a domain that is not a domain, naming the field", async () => {
    const bad = await admin("/audit?since=yesterday");
    expect(bad.status).toBe(422);
    expect((await problemOf(bad)).detail).toContain("since");
    const dom = await admin(`/audit?domain=${encodeURIComponent("not a domain")}`);
    expect(dom.status).toBe(422);
    expect((await problemOf(dom)).detail).toContain("domain");
  });
});
