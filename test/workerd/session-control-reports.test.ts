// Issue 11: a stream's reports to the ControlPlane (pair states, metrics, peer attempts, session
// counters) go as one report() call per engine step, not one call per report: the ControlPlane is a
// singleton every stream reports to, and each call is an event there with its own commit. A verified
// inbound pair used to cost 7 calls from its stream (reportPair and reportSession when pending;
// reportPair, observe, reportPeerAttempt and reportSession when valid; observe for the latency).
import { afterAll, describe, expect, it } from "vitest";
import { harness, uplink, waitJob, type Uplink } from "../harness/bridge.js";
import type { Job } from "../harness/peer.js";
import { admin, controlPlane } from "./admin-helpers.js";
import { closeUplinks } from "./helpers.js";

const links: Uplink[] = [];
afterAll(() => closeUplinks(links));

describe("reports from a stream to the ControlPlane", () => {
  it("a verified pair costs its stream at most 3 ControlPlane calls, and everything still reaches the index, metrics and peer history", async () => {
    await harness("POST", "/reset");
    const job = await harness<Job>("POST", "/jobs", { kind: "originate", to: "edge.test", stanzas: [] });
    const link = await uplink(job.id);
    links.push(link);
    expect((await waitJob(job.id, ["sent", "refused", "closed"])).result).toEqual({ type: "valid" });
    const streamId = /id=['"]([0-9a-f]{32})['"]/.exec(link.fromEdge[0]!)![1]!;
    // The reports are fire and forget: wait until the index shows the pair valid.
    const deadline = Date.now() + 5000;
    let pairs: { items: { sessionId: string; state: string }[] } = { items: [] };
    while (Date.now() < deadline) {
      pairs = await (await admin("/pairs?remote=peer.test&state=valid")).json();
      if (pairs.items.some((p) => p.sessionId === streamId)) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(pairs.items.some((p) => p.sessionId === streamId)).toBe(true);
    // Pending (pair + session), valid (pair, outcome metric, peer attempt, session, latency): two steps.
    const calls = await controlPlane().reportCalls(streamId);
    expect(calls).toBeGreaterThan(0);
    expect(calls).toBeLessThanOrEqual(3);
    const session = await (await admin(`/sessions/${streamId}`)).json<{ peer?: string }>();
    expect(session.peer).toBe("peer.test");
    const peer = await (await admin("/peers/peer.test")).json<{ attempts?: unknown; [k: string]: unknown }>();
    expect(JSON.stringify(peer)).toContain(streamId);
    const metrics = await (await admin("/metrics")).text();
    expect(metrics).toMatch(/dialback_edge_dialback_outcomes_total\{[^}]*condition="valid"[^}]*\} [1-9]/);
  });
});
