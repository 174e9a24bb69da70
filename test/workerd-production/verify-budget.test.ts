// Issue 10 defect 4: outbound verification work is budgeted edge-wide. Claims on separate streams for
// sender domains under one registrable parent hold at most VERIFY_MAX_PENDING_PER_PARENT (3 here)
// verifications, and at most VERIFY_MAX_AUTHORITIES_PER_PARENT (1 here) authority addresses; beyond
// that a claim gets the dialback error resource-constraint at once (no connection, no waiting),
// while claims from other peers go on. The harness leaves the admitted verifications unanswered, so
// they stay in flight for the whole test.
import { beforeAll, describe, expect, it } from "vitest";
import { harness, stats, uplink, waitJob } from "../harness/bridge.js";
import type { Job } from "../harness/peer.js";

async function claim(from: string) {
  const job = await harness<Job>("POST", "/jobs", { kind: "originate", from, to: "edge.test", stanzas: [] });
  await uplink(job.id);
  return job;
}
const settled = (job: Job) => waitJob(job.id, ["sent", "refused", "closed"]);

beforeAll(async () => {
  await harness("POST", "/reset");
  await harness("POST", "/config", { ignoreVerify: true });
});

describe("the verification budget", () => {
  it("a 4th pending claim under budget.test is refused with resource-constraint; peer.test still verifies", async () => {
    for (const i of [1, 2, 3]) await claim(`s${i}.budget.test`);
    // All three were admitted: their db:verify reached the authority (which never answers).
    await stats("verifyRequests", 3);
    const fourth = await settled(await claim("s4.budget.test"));
    expect(fourth.result).toEqual({ type: "error", condition: "resource-constraint" });
    expect((await stats()).verifyRequests).toBe(3);

    await harness("POST", "/config", { ignoreVerify: false });
    expect((await settled(await claim("peer.test"))).result).toEqual({ type: "valid" });
    await harness("POST", "/config", { ignoreVerify: true });
  });

  it("a second authority address under one parent is refused; the first address takes more", async () => {
    await claim("near.other.test");
    await stats("verifyRequests", 5);
    const far = await settled(await claim("far.other.test"));
    expect(far.result).toEqual({ type: "error", condition: "resource-constraint" });
    await claim("near.other.test");
    await stats("verifyRequests", 6);
  });
});
