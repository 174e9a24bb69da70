// The ControlPlane's record of peer attempts (GET /admin/v1/peers/{domain}) is bounded in all, not
// only per domain: a peer chooses how many domains it claims, and each used to leave rows for good
// (the 20,000-pair soak left 20,004 rows). Past the cap the oldest attempts go, whatever their domain.
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ATTEMPTS_KEPT, SessionIndex } from "../../durable-objects/control-plane/index-store.js";
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

describe("peer attempts per domain", () => {
  it("are trimmed to the newest ATTEMPTS_KEPT once a domain recorded that many more (one DELETE per that many attempts, not per attempt); a busy domain holds at most twice as many", async () => {
    const counts = await runInDurableObject(controlPlane(), (_i, state) => {
      const sql = state.storage.sql;
      let deletes = 0;
      const spied = Object.create(sql, {
        exec: { value: (q: string, ...b: SqlStorageValue[]) => ((deletes += /^\s*DELETE/i.test(q) ? 1 : 0), sql.exec(q, ...b)) },
      }) as SqlStorage;
      const index = new SessionIndex(spied);
      const rows = () => state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM peer_attempts WHERE domain = 'busy.attempts.test'").one().n;
      const seen: number[] = [];
      for (let i = 0; i < 5 * ATTEMPTS_KEPT; i++) {
        index.recordAttempt({ domain: "busy.attempts.test", direction: "inbound", at: Date.now(), outcome: "failure", condition: `c${i}` });
        seen.push(rows());
      }
      const newest = state.storage.sql.exec<{ condition: string }>("SELECT condition FROM peer_attempts WHERE domain = 'busy.attempts.test' ORDER BY seq DESC LIMIT 1").one().condition;
      return { max: Math.max(...seen), last: seen.at(-1), newest, deletes };
    });
    expect(counts.deletes).toBe(5);
    expect(counts.max).toBeLessThan(2 * ATTEMPTS_KEPT);
    expect(counts.last).toBe(ATTEMPTS_KEPT);
    expect(counts.newest).toBe(`c${5 * ATTEMPTS_KEPT - 1}`);
  });

  it("of a domain no longer counted in memory (more domains than tracked) are trimmed when it is dropped", async () => {
    const rows = await runInDurableObject(controlPlane(), (_i, state) => {
      const index = new SessionIndex(state.storage.sql, undefined, 2);
      // 30 attempts of one domain, interleaved with attempts of others that push it out of the 2 tracked.
      for (let i = 0; i < 30; i++) {
        index.recordAttempt({ domain: "pushed.attempts.test", direction: "outbound", at: Date.now(), outcome: "failure", condition: "x" });
        index.recordAttempt({ domain: `other${i}a.attempts.test`, direction: "outbound", at: Date.now(), outcome: "failure", condition: "x" });
        index.recordAttempt({ domain: `other${i}b.attempts.test`, direction: "outbound", at: Date.now(), outcome: "failure", condition: "x" });
      }
      return state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM peer_attempts WHERE domain = 'pushed.attempts.test'").one().n;
    });
    expect(rows).toBeLessThanOrEqual(ATTEMPTS_KEPT);
  });
});
