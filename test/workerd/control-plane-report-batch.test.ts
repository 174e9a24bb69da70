// Issue 11: the ControlPlane is one Durable Object for the whole edge, and each SQLite statement it
// runs per reported pair is paid edge-wide in series. A reportMany batch is applied as its final effect
// (durable-objects/control-plane/report-batch.ts): one upsert per session row and pair row and one per
// metric series, however many reports touched them; deletes in their place. The index, the metrics
// and the peer history must end exactly as if every report had come alone.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { ControlPlane } from "../../durable-objects/control-plane.js";
import type { ReportMethod, SessionInfo } from "../../durable-objects/lib/session-rpc.js";

type Call = [ReportMethod, unknown[]];
const ns = env.CONTROL_PLANE as unknown as DurableObjectNamespace<ControlPlane>;

const info = (id: string, bytesIn: number): SessionInfo => ({
  id, direction: "inbound", transport: "gateway", peer: `d${id}.peer.test`, local: "edge.test", tls: false, bidi: false,
  openedAt: 1_700_000_000_000, bytesIn, bytesOut: 0, stanzasIn: 0, stanzasOut: 0,
} as SessionInfo);

/** What 40 streams of a fan-out report: each opened, a pair pending then valid, its metrics and attempt. */
function fanoutBatches(): Array<[string, Call[]]> {
  const out: Array<[string, Call[]]> = [];
  for (let i = 0; i < 40; i++) {
    const id = `s${i}`;
    const pair = { local: "edge.test", remote: `d${id}.peer.test`, direction: "inbound" };
    out.push([id, [
      ["reportSession", [info(id, 100)]],
      ["reportPair", [id, { ...pair, state: "pending" }]],
      ["reportPair", [id, { ...pair, state: "valid", via: "dialback" }]],
      ["observe", [[{ kind: "dialback", condition: "valid" }, { kind: "verification-latency", seconds: 0.05 + i / 1000 }]]],
      ["reportPeerAttempt", [{ domain: pair.remote, direction: "inbound", at: 1_700_000_000_000 + i, outcome: "valid", latencyMs: 50 }]],
      ["reportSession", [info(id, 200 + i)]],
    ]]);
  }
  // Deletes between the reports: a stream closed, a pair removed, a pair removed then reported again.
  out.push(["s3", [["sessionClosed", ["s3", "remote-connection-failed"]]]]);
  out.push(["s5", [["pairRemoved", ["s5", { local: "edge.test", remote: "ds5.peer.test", direction: "inbound" }]]]]);
  out.push(["s7", [
    ["pairRemoved", ["s7", { local: "edge.test", remote: "ds7.peer.test", direction: "inbound" }]],
    ["reportPair", ["s7", { local: "edge.test", remote: "ds7.peer.test", direction: "inbound", state: "valid", via: "dialback" }]],
  ]]);
  return out;
}

/** The index and metrics as the admin API shows them, without the times the rows were written. */
async function state(cp: DurableObjectStub<ControlPlane>) {
  const strip = (x: unknown) => JSON.parse(JSON.stringify(x, (k, v) => (k === "updatedAt" ? undefined : v)));
  return {
    sessions: strip(await cp.listSessions(undefined, 100)),
    pairs: strip(await cp.listPairs({}, undefined, 100)),
    metrics: await cp.metrics(),
    peer7: strip(await cp.peer("ds7.peer.test")),
  };
}

describe("ControlPlane reports applied as a batch", () => {
  it("ends as if each report came alone, with one statement per row and metric series instead of one per report", async () => {
    const batches = fanoutBatches();
    const together = ns.get(ns.idFromName("report-batch-together"));
    const statements = await runInDurableObject(together, async (cp: ControlPlane, s) => {
      const sql = s.storage.sql;
      const exec = sql.exec.bind(sql);
      let n = 0;
      sql.exec = ((q: string, ...b: unknown[]) => (n++, exec(q, ...(b as SqlStorageValue[])))) as typeof sql.exec;
      try {
        await cp.reportMany(batches);
      } finally {
        sql.exec = exec;
      }
      return n;
    });

    const alone = ns.get(ns.idFromName("report-batch-alone"));
    for (const [sessionId, calls] of batches) for (const call of calls) await alone.report(sessionId, [call]);

    const a = await state(together);
    expect(a).toEqual(await state(alone));
    // Sanity: the deletes took effect, the metrics counted every verdict.
    expect(a.sessions.items.map((x: { id: string }) => x.id)).not.toContain("s3");
    expect(JSON.stringify(a.pairs)).not.toContain('"ds5.peer.test"');
    expect(JSON.stringify(a.pairs)).toContain('"ds7.peer.test"');
    expect(a.metrics).toMatch(/dialback_edge_dialback_outcomes_total\{[^}]*condition="valid"[^}]*\} 40\b/);
    // One by one: 2 session + 2 pair upserts + 4 metric bumps + the attempt's 2 per stream (~400).
    // Together: 1 + 1 per stream, a handful of metric series, the attempts (~165).
    expect(statements).toBeLessThan(200);
  });
});
