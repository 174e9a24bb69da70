// GET /admin/v1/audit filters (issue 14, for the console's Audit page): kind, domain (named in the
// subject or detail), since/until (RFC 3339, inclusive), combined with the cursor.

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

  it("refuses a time that is not RFC 3339 and a domain that is not a domain, naming the field", async () => {
    const bad = await admin("/audit?since=yesterday");
    expect(bad.status).toBe(422);
    expect((await problemOf(bad)).detail).toContain("since");
    const dom = await admin(`/audit?domain=${encodeURIComponent("not a domain")}`);
    expect(dom.status).toBe(422);
    expect((await problemOf(dom)).detail).toContain("domain");
  });
});
