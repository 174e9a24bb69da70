// Issue 13: DELETE /admin/v1/peers/{domain}/sessions closes every stream with a peer (ejabberd's
// stop_s2s_connections, Prosody's s2s:close), with the stream error the operator chose, audited, and
// answers what it closed. Against the independent harness peer (test/harness, "peer.test").
import { beforeEach, describe, expect, it } from "vitest";
import { harness, uplink, waitJob, type Uplink } from "../harness/bridge.js";
import type { Job } from "../harness/peer.js";
import { admin } from "./admin-helpers.js";

/** The harness originates peer.test -> edge.test over WebSocket; resolves once the pair is valid. */
async function verifiedInbound(id: string): Promise<Uplink> {
  const job = await harness<Job>("POST", "/jobs", {
    kind: "originate",
    to: "edge.test",
    stanzas: [`<message from='alice@peer.test' to='bob@edge.test' id='${id}'><body>hi</body></message>`],
  });
  const link = await uplink(job.id);
  expect((await waitJob(job.id, ["sent", "refused", "closed"])).result).toEqual({ type: "valid" });
  return link;
}

/** Sessions report to the ControlPlane in the background: wait until `n` peer.test sessions are indexed. */
async function peerSessions(n: number): Promise<string[]> {
  for (let i = 0; i < 200; i++) {
    const peer = await (await admin("/peers/peer.test")).json<{ sessions: string[] }>();
    if (peer.sessions.length >= n) return peer.sessions;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`fewer than ${n} peer.test sessions were ever indexed`);
}

const within = <T>(p: Promise<T>, ms = 5000) =>
  Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`not within ${ms} ms`)), ms))]);

beforeEach(async () => {
  await harness("POST", "/reset");
});

describe("DELETE /admin/v1/peers/{domain}/sessions", () => {
  it("closes every stream with the peer with the chosen stream error, answers what it closed, and audits it", async () => {
    const links = [await verifiedInbound("close1"), await verifiedInbound("close2")];
    const before = await peerSessions(2);
    const res = await admin("/peers/PEER.test./sessions?condition=system-shutdown&text=maintenance", { method: "DELETE", headers: { "x-admin-actor": "dave" } });
    expect(res.status).toBe(200);
    const r = await res.json<{ domain: string; condition: string; closed: string[]; revoked: unknown[]; failed: unknown[] }>();
    expect(r).toMatchObject({ domain: "peer.test", condition: "system-shutdown", revoked: [], failed: [] });
    expect(r.closed).toEqual([...before].sort());
    for (const link of links) {
      await within(link.closed);
      const wire = link.fromEdge.join("");
      expect(wire).toContain("system-shutdown");
      expect(wire).toContain("maintenance");
    }
    expect((await (await admin("/peers/peer.test")).json<{ sessions: string[] }>()).sessions).toEqual([]);
    for (const id of r.closed) expect((await admin(`/sessions/${id}`)).status).toBe(404);
    const audit = await (await admin("/audit?kind=peer.sessions-closed")).json<{ items: { actor: string; subject: string; detail: string }[] }>();
    expect(audit.items[0]).toMatchObject({ actor: "admin:dave", subject: "peer.test" });
    expect(audit.items[0]!.detail).toContain(`system-shutdown: maintenance; closed ${r.closed.length} stream(s)`);
  });

  it("with nothing open it answers empty lists; the peer may connect again afterwards", async () => {
    const res = await admin("/peers/nobody.example/sessions", { method: "DELETE" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ domain: "nobody.example", condition: "policy-violation", closed: [], revoked: [], failed: [] });
    await verifiedInbound("again");
  });

  it("refuses a bad domain or condition with 422, and an unknown query parameter with 400", async () => {
    expect((await admin("/peers/bad%20domain/sessions", { method: "DELETE" })).status).toBe(422);
    expect((await admin("/peers/peer.test/sessions?condition=sorry", { method: "DELETE" })).status).toBe(422);
    expect((await admin("/peers/peer.test/sessions?reason=x", { method: "DELETE" })).status).toBe(400);
  });
});
