// Issue 10 item 4: a claim the verification budget refuses by its sender's registrable parent costs no
// DNS. The edge used to locate the authority (DoH SRV, then A/AAAA) for every claim before asking the
// budget, so 2 x 1,000 claims for distinct *.evil.test cost 2,000+ DoH lookups even when refused.
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_BUDGET } from "../../src/budget/verification-budget.js";
import { verifyWithAuthority } from "../../durable-objects/lib/verify-path.js";
import { verifyBudgetStub } from "../../durable-objects/lib/stubs.js";
import type { Domain } from "../../src/types.js";
import { harness } from "../harness/bridge.js";

const req = (to: string) => ({ from: "edge.test" as Domain, to: to as Domain, id: "0123456789abcdef", key: "k".repeat(64) });
const background: Promise<unknown>[] = [];
const waitUntil = (p: Promise<unknown>) => void background.push(p);

beforeAll(async () => {
  await harness("POST", "/reset");
});

describe("verification budget before DNS (issue 10 item 4)", () => {
  it("a claim over the per-parent budget is refused with resource-constraint without any DoH query", async () => {
    const budget = verifyBudgetStub(env);
    // Fill full.test's share: VERIFY_MAX_PENDING_PER_PARENT verifications in flight (the default).
    const leases: string[] = [];
    for (let i = 0; i < DEFAULT_BUDGET.maxPendingPerParent; i += 100) {
      const batch = await Promise.all(Array.from({ length: 100 }, () => budget.admitParent("full.test")));
      for (const a of batch) if (a.ok) leases.push(a.lease);
    }
    expect(leases).toHaveLength(DEFAULT_BUDGET.maxPendingPerParent);
    try {
      expect(await verifyWithAuthority(env, req("x1.full.test"), waitUntil)).toEqual({ type: "error", condition: "resource-constraint" });
      expect(await verifyWithAuthority(env, req("deep.x2.full.test"), waitUntil)).toEqual({ type: "error", condition: "resource-constraint" });
      // Another registrant is not affected, and its lookup is seen by the DoH endpoint (no records:
      // the authority cannot be found).
      expect(await verifyWithAuthority(env, req("a.other-parent.test"), waitUntil)).toEqual({ type: "error", condition: "remote-server-not-found" });
      const log = await harness<string[]>("GET", "/dns-log");
      expect(log.some((n) => n.includes("a.other-parent.test"))).toBe(true);
      expect(log.filter((n) => n.includes("full.test"))).toEqual([]);
    } finally {
      await Promise.all(leases.map((l) => budget.release(l)));
      await Promise.all(background);
    }
    expect((await budget.usage()).pending).toBe(0);
  });
});
