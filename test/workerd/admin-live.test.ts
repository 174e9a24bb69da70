// The admin API against live sessions: the independent harness peer (test/harness, "peer.test")
// federates with the edge over /xmpp-s2s and TCP, and the operator acts on those streams.
import { beforeEach, describe, expect, it } from "vitest";
import { harness, uplink, waitJob, type Uplink } from "../harness/bridge.js";
import type { Job } from "../harness/peer.js";
import { admin } from "./admin-helpers.js";

type Pair = { local: string; remote: string; direction: string; state: string; sessionId: string };

/** The harness originates peer.test -> edge.test over WebSocket; resolves once the pair is valid. */
async function verifiedInbound(id: string): Promise<{ link: Uplink; job: Job }> {
  const job = await harness<Job>("POST", "/jobs", {
    kind: "originate",
    to: "edge.test",
    stanzas: [`<message from='alice@peer.test' to='bob@edge.test' id='${id}'><body>live</body></message>`],
  });
  const link = await uplink(job.id);
  expect((await waitJob(job.id, ["sent", "refused", "closed"])).result).toEqual({ type: "valid" });
  return { link, job };
}

/** Sessions report to the ControlPlane in the background: poll the index for the new pair. */
async function pairOnNewSession(seen: Set<string>): Promise<Pair> {
  for (let i = 0; i < 100; i++) {
    const page = await (await admin("/pairs?remote=peer.test&direction=inbound&state=valid")).json<{ items: Pair[] }>();
    const p = page.items.find((x) => !seen.has(x.sessionId));
    if (p) {
      seen.add(p.sessionId);
      return p;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error("the session never reported its verified pair");
}

// The harness is one peer shared by every file (files run one at a time): start from its defaults.
beforeEach(async () => {
  await harness("POST", "/reset");
});

const within = <T>(p: Promise<T>, ms = 5000) =>
  Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`not within ${ms} ms`)), ms))]);

describe("operator actions on live streams", () => {
  const seen = new Set<string>();

  it("DELETE /pairs revokes the pair at once; the stream left with no pair closes with policy-violation", async () => {
    const { link } = await verifiedInbound("live1");
    const pair = await pairOnNewSession(seen);
    expect(pair).toMatchObject({ local: "edge.test", remote: "peer.test", via: "dialback" });
    const res = await admin("/pairs/edge.test/peer.test", { method: "DELETE", headers: { "x-admin-actor": "carol" } });
    expect(res.status).toBe(200);
    const e = await res.json<{ revoked: { sessionId: string; condition: string }[]; failed: unknown[] }>();
    expect(e.failed).toEqual([]);
    expect(e.revoked).toContainEqual(expect.objectContaining({ sessionId: pair.sessionId, condition: "policy-violation" }));
    await within(link.closed);
    expect(link.fromEdge.join("")).toContain("policy-violation");
    expect((await admin("/pairs/edge.test/peer.test")).status).toBe(404);
    const audit = await (await admin("/audit?kind=pair.revoked")).json<{ items: { actor: string; detail: string }[] }>();
    expect(audit.items[0]).toMatchObject({ actor: "admin:carol", detail: `session ${pair.sessionId}: policy-violation: the domain pair edge.test <-> peer.test was revoked by the operator` });
  });

  it("DELETE /sessions/{id} closes the stream with the stream error the operator chose", async () => {
    const { link } = await verifiedInbound("live2");
    const pair = await pairOnNewSession(seen);
    const live = await admin(`/sessions/${pair.sessionId}`);
    expect(live.status).toBe(200);
    expect(await live.json()).toMatchObject({ id: pair.sessionId, direction: "inbound", peer: "peer.test" });
    const res = await admin(`/sessions/${pair.sessionId}?condition=system-shutdown&text=maintenance`, { method: "DELETE" });
    expect(res.status).toBe(204);
    await within(link.closed);
    const wire = link.fromEdge.join("");
    expect(wire).toContain("system-shutdown");
    expect(wire).toContain("maintenance");
    const audit = await (await admin("/audit?kind=session.closed")).json<{ items: { subject: string; detail: string }[] }>();
    expect(audit.items[0]).toMatchObject({ subject: pair.sessionId, detail: "system-shutdown: maintenance" });
    expect((await admin(`/sessions/${pair.sessionId}`)).status).toBe(404);
  });

  it("a deny rule ends the peer's verified pairs on live streams", async () => {
    const { link } = await verifiedInbound("live3");
    const pair = await pairOnNewSession(seen);
    const res = await admin("/policy/domains/peer.test", { method: "PUT", json: { action: "deny" } });
    expect(res.status).toBe(201);
    const { enforcement } = await res.json<{ enforcement: { revoked: { sessionId: string; condition: string }[]; failed: unknown[] } }>();
    expect(enforcement.failed).toEqual([]);
    expect(enforcement.revoked).toContainEqual(expect.objectContaining({ sessionId: pair.sessionId, condition: "forbidden" }));
    await within(link.closed);
    expect(link.fromEdge.join("")).toContain("policy-violation");
    expect((await admin("/policy/domains/peer.test", { method: "DELETE" })).status).toBe(200);
  });
});

describe("POST /peers/{domain}/check against a live peer", () => {
  it("runs policy, resolve, connect, stream-open and dialback, each timed, and records the attempt", async () => {
    type Check = { ok: boolean; from: string; steps: { step: string; ok: boolean; ms: number; detail: string }[] };
    // peer.test verifies our key with our authority, reached over /xmpp-s2s (XEP-0220 §2.1.2).
    const auth = await harness<Job>("POST", "/jobs", { kind: "authority", to: "edge.test" });
    await uplink(auth.id);
    await waitJob(auth.id, ["ready"]);
    const res = await admin("/peers/peer.test/check", { method: "POST" });
    expect(res.status).toBe(200);
    const r = await res.json<Check>();
    expect(r.steps.map((s) => [s.step, s.ok])).toEqual([
      ["policy", true],
      ["resolve", true],
      ["connect", true],
      ["stream-open", true],
      ["dialback", true],
    ]);
    expect(r).toMatchObject({ ok: true, from: "edge.test" });
    for (const s of r.steps) expect(s.ms).toBeGreaterThanOrEqual(0);
    expect(r.steps[1]!.detail).toMatch(/^127\.0\.0\.1:\d+ \(static\)$/);
    expect(r.steps[3]!.detail).toMatch(/features: dialback/);
    const peer = await (await admin("/peers/peer.test")).json<{ outbound: { outcome: string; detail: string }[] }>();
    expect(peer.outbound[0]).toMatchObject({ outcome: "success", detail: "admin check: dialback valid" });
  });
});

describe("a policy change refuses new pairs at once, with the XEP-0220 §2.4 condition", () => {
  async function originateRefused(): Promise<{ job: Job; link: Uplink }> {
    const job = await harness<Job>("POST", "/jobs", { kind: "originate", to: "edge.test", stanzas: [] });
    const link = await uplink(job.id);
    return { job: await waitJob(job.id, ["sent", "refused", "closed"]), link };
  }

  it("allowlist-only without peer.test: dialback error forbidden, the stream stays for other pairs", async () => {
    expect((await admin("/policy", { method: "PATCH", json: { allowlistOnly: true, domains: { "friend.example": { action: "allow" } } } })).status).toBe(200);
    try {
      const { job, link } = await originateRefused();
      expect(job).toMatchObject({ state: "refused", result: { type: "error", condition: "forbidden" } });
      expect(job.streamError).toBeUndefined();
      link.ws.close(1000);
    } finally {
      await admin("/policy", { method: "PATCH", json: { allowlistOnly: false, domains: { "friend.example": null } } });
    }
    // Back to the default: the next pair verifies again.
    const again = await harness<Job>("POST", "/jobs", { kind: "originate", to: "edge.test", stanzas: [] });
    await uplink(again.id);
    expect((await waitJob(again.id, ["sent", "refused", "closed"])).result).toEqual({ type: "valid" });
  });

  it("level trusted: dialback alone is not-authorized (or policy-violation without TLS)", async () => {
    expect((await admin("/policy/domains/peer.test", { method: "PUT", json: { action: "allow", level: "trusted" } })).status).toBe(201);
    try {
      const { job, link } = await originateRefused();
      expect(job.state).toBe("refused");
      // The condition depends on whether this WebSocket counts as TLS: read the session's own facts.
      const sessions = await (await admin("/sessions")).json<{ items: { peer?: string; tls: boolean }[] }>();
      const s = sessions.items.find((x) => x.peer === "peer.test");
      expect(s).toBeDefined();
      const expected = s?.tls ? "not-authorized" : "policy-violation";
      expect(job.result).toEqual({ type: "error", condition: expected });
      link.ws.close(1000);
    } finally {
      await admin("/policy/domains/peer.test", { method: "DELETE" });
    }
  });
});

describe("what sessions report shows in the audit log and the metrics", () => {
  it("a spoofed key is a spoofing-attempt in GET /audit, and a failed dialback outcome in /metrics", async () => {
    await harness("POST", "/config", { forgeKeys: true });
    const job = await harness<Job>("POST", "/jobs", { kind: "originate", to: "edge.test", stanzas: [] });
    const link = await uplink(job.id);
    expect((await waitJob(job.id, ["sent", "refused", "closed"])).result).toEqual({ type: "error", condition: "forbidden" });
    // Reports are fire-and-forget: poll for the entry.
    let items: { kind: string; actor: string; detail: string | null }[] = [];
    for (let i = 0; i < 100 && items.length === 0; i++) {
      items = (await (await admin("/audit?kind=spoofing-attempt")).json<{ items: typeof items }>()).items;
      if (items.length === 0) await new Promise((r) => setTimeout(r, 20));
    }
    expect(items[0]).toMatchObject({ kind: "spoofing-attempt", actor: expect.stringMatching(/^session:/), detail: expect.stringContaining("peer.test") });
    const metrics = await (await admin("/metrics")).text();
    expect(metrics).toMatch(/dialback_edge_dialback_outcomes_total\{condition="forbidden"\} [1-9]/);
    expect(metrics).toMatch(/dialback_edge_sessions\{direction="inbound",transport="websocket"\} [1-9]/);
    link.ws.close(1000);
  });
});

describe("GET /peers and the latency histogram from live traffic", () => {
  it("a verified inbound pair is the last inbound attempt with peer.test, and its verification is timed", async () => {
    await verifiedInbound("peers1");
    type Peer = { inbound: { outcome: string; condition: string | null; detail: string | null; latencyMs: number | null }[] };
    let peer: Peer = { inbound: [] };
    for (let i = 0; i < 100; i++) {
      peer = await (await admin("/peers/peer.test")).json<Peer>();
      if (peer.inbound[0]?.outcome === "success") break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(peer.inbound[0]).toMatchObject({ outcome: "success", condition: null, detail: expect.stringMatching(/^edge\.test <- peer\.test on [0-9a-f]{32}$/) });
    // Issue 14: the peer's own verification latency (claim to verdict), not only the edge-wide histogram.
    expect(typeof peer.inbound[0]!.latencyMs).toBe("number");
    expect(peer.inbound[0]!.latencyMs).toBeGreaterThanOrEqual(0);
    expect(peer.inbound[0]!.latencyMs).toBeLessThan(30_000);
    const metrics = await (await admin("/metrics")).text();
    expect(metrics).toMatch(/dialback_edge_verification_latency_seconds_count [1-9]/);
    expect(metrics).toMatch(/dialback_edge_verification_latency_seconds_bucket\{le="\+Inf"\} [1-9]/);
  });
});
