// Issue 10 defect 4 and the rate half of defect 8: the edge-wide budget for outbound verification.
import { describe, expect, it } from "vitest";
import { registrableParent } from "../../src/budget/parent-domain.js";
import { DEFAULT_BUDGET, VerificationBudget, type BudgetLimits } from "../../src/budget/verification-budget.js";

const budget = (over: Partial<BudgetLimits>, leaseMs?: number) => new VerificationBudget({ ...DEFAULT_BUDGET, ...over }, leaseMs);
const A = "tcp:xmpp.evil.test:5269";

describe("VerificationBudget", () => {
  it("defect 4's shape: 2,000 claims for distinct *.evil.test, each at its own address, take 4 addresses' worth", () => {
    const b = budget({});
    let admitted = 0;
    const limits = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const a = b.admit({ parent: "evil.test", authority: `tcp:10.0.${i >> 8}.${i & 255}:5269` }, 0);
      if (a.ok) admitted++;
      else limits.add(a.limit);
    }
    expect(admitted).toBe(DEFAULT_BUDGET.maxAuthoritiesPerParent);
    expect(b.authorities).toBe(4);
    expect([...limits]).toEqual(["maxAuthoritiesPerParent"]);
  });

  it("many subdomains at one address share it up to the per-parent and per-authority caps", () => {
    const b = budget({ maxPendingPerParent: 5, maxPendingPerAuthority: 7 });
    const r = Array.from({ length: 6 }, () => b.admit({ parent: "evil.test", authority: A }, 0));
    expect(r.filter((x) => x.ok)).toHaveLength(5);
    expect(r[5]).toMatchObject({ ok: false, limit: "maxPendingPerParent" });
    // Another registrant at the same address is limited by the address cap only.
    const other = Array.from({ length: 3 }, () => b.admit({ parent: "other.test", authority: A }, 0));
    expect(other.map((x) => x.ok)).toEqual([true, true, false]);
    expect(other[2]).toMatchObject({ limit: "maxPendingPerAuthority" });
    // An unrelated peer is unaffected.
    expect(b.admit({ parent: "good.test", authority: "tcp:xmpp.good.test:5269" }, 0).ok).toBe(true);
  });

  it("two steps: the parent's limits before the authority is known (no DNS for a refused claim), then the address's", () => {
    const b = budget({ maxPendingPerParent: 2, maxPendingPerAuthority: 1 });
    const one = b.admitParent("evil.test", 0);
    const two = b.admitParent("evil.test", 0);
    expect(b.admitParent("evil.test", 0)).toMatchObject({ ok: false, limit: "maxPendingPerParent" });
    if (!one.ok || !two.ok) throw new Error("admitted");
    expect(b.bind(one.lease, A, 0).ok).toBe(true);
    // The address is full: the second lease is refused there and given back.
    expect(b.bind(two.lease, A, 0)).toMatchObject({ ok: false, limit: "maxPendingPerAuthority" });
    expect(b.pending).toBe(1);
    expect(b.admitParent("evil.test", 0).ok).toBe(true);
    b.release(one.lease);
    expect(b.authorities).toBe(0);
  });

  it("released leases give their budget back; an expired lease frees itself", () => {
    const b = budget({ maxPendingPerParent: 1 }, 1000);
    const first = b.admit({ parent: "p.test", authority: A }, 0);
    expect(first.ok).toBe(true);
    expect(b.admit({ parent: "p.test", authority: A }, 10).ok).toBe(false);
    if (first.ok) b.release(first.lease);
    const second = b.admit({ parent: "p.test", authority: A }, 20);
    expect(second.ok).toBe(true);
    expect(b.admit({ parent: "p.test", authority: A }, 500).ok).toBe(false);
    // never released (its caller died): gone after leaseMs
    expect(b.admit({ parent: "p.test", authority: A }, 1020).ok).toBe(true);
    expect(b.pending).toBe(1);
  });

  it("total caps: verifications and distinct authorities edge-wide", () => {
    const b = budget({ maxPending: 3, maxAuthorities: 2 });
    expect(b.admit({ parent: "a.test", authority: "tcp:a:1" }, 0).ok).toBe(true);
    expect(b.admit({ parent: "b.test", authority: "tcp:b:1" }, 0).ok).toBe(true);
    expect(b.admit({ parent: "c.test", authority: "tcp:c:1" }, 0)).toMatchObject({ ok: false, limit: "maxAuthorities" });
    expect(b.admit({ parent: "c.test", authority: "tcp:a:1" }, 0).ok).toBe(true);
    expect(b.admit({ parent: "d.test", authority: "tcp:b:1" }, 0)).toMatchObject({ ok: false, limit: "maxPending" });
  });

  it("db:verify toward one authority: a burst, then the sustained rate (defect 8: no unbounded reflection)", () => {
    const b = budget({ burstPerAuthority: 10, ratePerAuthority: 2 });
    const admitted = (n: number, at: number, authority = A) => {
      let ok = 0;
      for (let i = 0; i < n; i++) {
        const a = b.admit({ parent: `s${at}-${i}.test`, authority }, at);
        if (a.ok) (ok++, b.release(a.lease));
      }
      return ok;
    };
    expect(admitted(15, 0)).toBe(10);
    expect(admitted(5, 1000)).toBe(2);
    expect(admitted(5, 3000)).toBe(4);
    // another authority has its own bucket
    expect(admitted(5, 3000, "tcp:victim.example:5269")).toBe(5);
    expect(b.refusals.get("ratePerAuthority")).toBe(5 + 3 + 1);
  });
});

describe("registrableParent", () => {
  it("last two labels, or three under a multi-label public suffix", () => {
    expect(registrableParent("a.b.evil.test")).toBe("evil.test");
    expect(registrableParent("evil.test")).toBe("evil.test");
    expect(registrableParent("chat.example.co.uk")).toBe("example.co.uk");
    expect(registrableParent("x.user.github.io")).toBe("user.github.io");
    expect(registrableParent("localhost")).toBe("localhost");
    expect(registrableParent("192.0.2.1")).toBe("192.0.2.1");
  });
});
