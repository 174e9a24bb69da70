// The test harness peer against itself over TCP: it must be a correct dialback implementation before
// it can judge the edge.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, type Element } from "ltx";
import { startHarness, type RunningHarness } from "../harness/server.js";

let a: RunningHarness;
let b: RunningHarness;

beforeAll(async () => {
  a = await startHarness("a.test", "secret-of-a-0123456789", { s2s: 0, uplink: 0, control: 0 });
  b = await startHarness("b.test", "secret-of-b-0123456789", { s2s: 0, uplink: 0, control: 0 });
});
afterAll(async () => {
  await a.close();
  await b.close();
});

const until = async (pred: () => boolean, peer: RunningHarness) => {
  const deadline = Date.now() + 5000;
  while (!pred() && Date.now() < deadline) await Promise.race([peer.peer.changed(), new Promise((r) => setTimeout(r, 50))]);
  return pred();
};

describe("harness peer (XEP-0220 between two harness instances)", () => {
  it("originates, is verified through the authority over a pooled TCP stream, and delivers", async () => {
    b.peer.config.authorityTcp = { host: "127.0.0.1", port: a.ports.s2s };
    for (let i = 0; i < 2; i++) {
      const job = a.peer.addJob({ kind: "originate", to: "b.test", stanzas: [`<message from='x@a.test' to='y@b.test' id='m${i}'><body>hi</body></message>`] });
      a.peer.dialTcp(job, "127.0.0.1", b.ports.s2s);
      expect(await until(() => job.state === "sent", a)).toBe(true);
      expect(job.result).toEqual({ type: "valid" });
      // Cold: open->features, db:result->valid; the receiver's authority legs are counted on its side.
      expect(job.roundTrips).toBe(2);
    }
    expect(await until(() => b.peer.inbox.length === 2, b)).toBe(true);
    expect(a.peer.stats.verifyRequests).toBe(2);
    expect(b.peer.stats.authorityConnections).toBe(1);
    // First verification: connect + open + verify = 3 legs; the second only the verify.
    expect(b.peer.stats.authorityRoundTrips).toBe(4);
  });

  it("refuses a forged key: the authority says invalid", async () => {
    const job = a.peer.addJob({ kind: "originate", to: "b.test", stanzas: [] });
    // A peer that does not know a's secret: same domain, wrong key.
    const forger = await startHarness("a.test", "not-the-secret-of-a-000", { s2s: 0, uplink: 0, control: 0 });
    forger.peer.jobs.set(job.id, job);
    forger.peer.dialTcp(job, "127.0.0.1", b.ports.s2s);
    expect(await until(() => job.state === "refused", forger)).toBe(true);
    expect(job.result).toEqual({ type: "invalid" });
    await forger.close();
  });

  it("claims further sender domains on one stream (claimOn), each verified apart, and sends from them", async () => {
    b.peer.config.authorityTcp = { host: "127.0.0.1", port: a.ports.s2s };
    a.peer.config.servesSubdomainsOf = "a.test";
    const job = a.peer.addJob({ kind: "originate", to: "b.test", stanzas: [] });
    a.peer.dialTcp(job, "127.0.0.1", b.ports.s2s);
    expect(await until(() => job.state === "sent", a)).toBe(true);
    const before = b.peer.inbox.length;
    expect(a.peer.claimOn(job.id, "d1.a.test")).toBe(true);
    expect(a.peer.claimOn(job.id, "d2.a.test")).toBe(true);
    expect(job.claims?.get("d1.a.test")).toEqual({ type: "pending" });
    expect(await until(() => [...job.claims!.values()].every((v) => v.type !== "pending"), a)).toBe(true);
    expect(Object.fromEntries(job.claims!)).toEqual({ "d1.a.test": { type: "valid" }, "d2.a.test": { type: "valid" } });
    // The job's own pair is untouched by the answers for the others.
    expect(job.result).toEqual({ type: "valid" });
    a.peer.sendOn(job.id, parse("<message from='x@d2.a.test' to='y@b.test' id='c2'><body>hi</body></message>") as Element);
    expect(await until(() => b.peer.inbox.length === before + 1, b)).toBe(true);
    expect(b.peer.inbox.at(-1)!.attrs.from).toBe("x@d2.a.test");
    a.peer.config.servesSubdomainsOf = undefined;
  });
});
