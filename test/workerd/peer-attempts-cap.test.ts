// The ControlPlane's record of peer attempts (GET /admin/v1/peers/{domain}) is bounded in all, not
// only per domain: a peer chooses how many domains it claims, and each used to leave rows for good
// (the 20,000-pair soak left 20,004 rows). Past the cap the oldest attempts go, whatever their domain.
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { SessionIndex } from "../../durable-objects/control-plane/index-store.js";
import { controlPlane } from "./admin-helpers.js";

describe("peer attempts", () => {
  it("keep at most the cap in all: the oldest domains' attempts go first", async () => {
    const left = await runInDurableObject(controlPlane(), (_i, state) => {
      const index = new SessionIndex(state.storage.sql, 3);
      for (let i = 0; i < 5; i++) index.recordAttempt({ domain: `cap${i}.attempts.test`, direction: "inbound", at: Date.now(), outcome: "failure", condition: "invalid" });
      return state.storage.sql.exec<{ domain: string }>("SELECT domain FROM peer_attempts WHERE domain LIKE '%.attempts.test' ORDER BY seq").toArray().map((r) => r.domain);
    });
    expect(left).toEqual(["cap2.attempts.test", "cap3.attempts.test", "cap4.attempts.test"]);
  });
});
