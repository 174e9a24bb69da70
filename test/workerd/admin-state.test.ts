// Sessions, pairs, metrics, peers and the HTTP dialback authority. The index is fed here through the
// ControlPlane's RPC, exactly as StreamSession DOs report to it.
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import app from "../../worker/index.js";
import { DialbackKeys } from "../../src/dialback/keys.js";
import { asDomain, asStreamId } from "../../src/types.js";
import { admin, controlPlane, problemOf } from "./admin-helpers.js";
import type { SessionInfo } from "../../durable-objects/lib/session-rpc.js";

const session = (id: string, over: Partial<SessionInfo> = {}): SessionInfo => ({
  id,
  direction: "inbound",
  transport: "websocket",
  peer: "peer.example",
  local: "edge.test",
  streamId: `sid-${id}`,
  tls: true,
  bidi: false,
  openedAt: 1_700_000_000_000,
  bytesIn: 10,
  bytesOut: 20,
  stanzasIn: 1,
  stanzasOut: 2,
  ...over,
});

beforeAll(async () => {
  const cp = controlPlane();
  await cp.reportSession(session("s-in-1"));
  await cp.reportSession(session("s-in-2", { peer: "other.example", transport: "gateway", tls: false }));
  await cp.reportSession(session("s-out-1", { direction: "outbound", transport: "tcp" }));
  await cp.reportPair("s-in-1", { local: "edge.test", remote: "peer.example", direction: "inbound", state: "valid" });
  await cp.reportPair("s-in-1", { local: "chat.edge.test", remote: "peer.example", direction: "inbound", state: "pending" });
  await cp.reportPair("s-in-2", { local: "edge.test", remote: "other.example", direction: "inbound", state: "valid" });
  await cp.reportPair("s-out-1", { local: "edge.test", remote: "peer.example", direction: "outbound", state: "valid" });
  await cp.observe([
    { kind: "dialback", condition: "valid" },
    { kind: "dialback", condition: "valid" },
    { kind: "dialback", condition: "remote-server-timeout" },
    { kind: "verification-latency", seconds: 0.02 },
    { kind: "verification-latency", seconds: 3 },
    { kind: "bounce", condition: "remote-server-not-found" },
  ]);
  await cp.reportPeerAttempt({ domain: "peer.example", direction: "inbound", at: 1_700_000_000_000, outcome: "failure", condition: "forbidden", detail: "authority said invalid" });
});

describe("/admin/v1/sessions", () => {
  it("lists live sessions with their pair counts, paginated", async () => {
    const p1 = await (await admin("/sessions?limit=2")).json<{ items: { id: string; pairs: number }[]; nextCursor: string }>();
    expect(p1.items.map((s) => [s.id, s.pairs])).toEqual([["s-in-1", 2], ["s-in-2", 1]]);
    const p2 = await (await admin(`/sessions?limit=2&cursor=${p1.nextCursor}`)).json<{ items: { id: string }[]; nextCursor: null }>();
    expect(p2).toMatchObject({ items: [{ id: "s-out-1" }], nextCursor: null });
  });

  it("GET one shows direction, peer, transport, TLS, bidi, counters and pairs; 404 otherwise", async () => {
    const res = await admin("/sessions/s-in-1");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      id: "s-in-1", direction: "inbound", transport: "websocket", peer: "peer.example", tls: true, bidi: false,
      bytesIn: 10, bytesOut: 20, stanzasIn: 1, stanzasOut: 2,
      pairs: [{ local: "chat.edge.test", state: "pending" }, { local: "edge.test", state: "valid" }],
    });
    const missing = await admin("/sessions/nope");
    expect(missing.status).toBe(404);
    expect((await problemOf(missing)).detail).toBe("no live session has id 'nope'");
  });

  it("DELETE: 404 for an unknown session, 422 for a condition that is not a stream error", async () => {
    expect((await admin("/sessions/nope", { method: "DELETE" })).status).toBe(404);
    const bad = await admin("/sessions/s-in-1?condition=go-away", { method: "DELETE" });
    expect(bad.status).toBe(422);
    expect((await problemOf(bad)).detail).toMatch(/^query\.condition: /);
  });
});

describe("/admin/v1/pairs", () => {
  type Page = { items: { local: string; remote: string; direction: string; state: string; sessionId: string }[]; nextCursor: string | null };
  it("lists pairs with filters", async () => {
    const all = await (await admin("/pairs")).json<Page>();
    expect(all.items).toHaveLength(4);
    const valid = await (await admin("/pairs?remote=PEER.example&state=valid")).json<Page>();
    expect(valid.items.map((p) => `${p.local} ${p.direction} ${p.sessionId}`)).toEqual(["edge.test inbound s-in-1", "edge.test outbound s-out-1"]);
    const out = await (await admin("/pairs?direction=outbound")).json<Page>();
    expect(out.items.map((p) => p.sessionId)).toEqual(["s-out-1"]);
  });

  it("paginates with a cursor without repeating or skipping", async () => {
    const ids: string[] = [];
    let cursor: string | null = "";
    while (cursor !== null) {
      const page: Page = await (await admin(`/pairs?limit=1${cursor ? `&cursor=${cursor}` : ""}`)).json<Page>();
      ids.push(...page.items.map((p) => `${p.local}|${p.remote}|${p.direction}|${p.sessionId}`));
      cursor = page.nextCursor;
    }
    expect(ids).toHaveLength(4);
    expect(new Set(ids).size).toBe(4);
  });

  it("422 for a bad filter value or cursor", async () => {
    expect((await admin("/pairs?state=maybe")).status).toBe(422);
    expect((await problemOf(await admin("/pairs?local=not%20a%20domain"))).detail).toBe("local 'not a domain' is not a domain name");
    expect((await admin("/pairs?cursor=xyz")).status).toBe(422);
  });

  it("GET /pairs/{local}/{remote} shows the pair on every stream; 404 when none", async () => {
    const res = await admin("/pairs/edge.test/peer.example");
    expect(res.status).toBe(200);
    expect((await res.json<{ items: unknown[] }>()).items).toHaveLength(2);
    const none = await admin("/pairs/edge.test/nobody.example");
    expect(none.status).toBe(404);
    expect((await problemOf(none)).detail).toBe("no stream carries the domain pair edge.test <-> nobody.example");
    expect((await admin("/pairs/edge.test/nobody.example", { method: "DELETE" })).status).toBe(404);
  });
});

describe("GET /admin/v1/metrics", () => {
  it("exposes sessions, pairs, dialback outcomes, latency histogram and bounces in Prometheus text", async () => {
    const res = await admin("/metrics");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain; version=0.0.4");
    const text = await res.text();
    for (const line of [
      'dialback_edge_sessions{direction="inbound",transport="gateway"} 1',
      'dialback_edge_sessions{direction="inbound",transport="websocket"} 1',
      'dialback_edge_sessions{direction="outbound",transport="tcp"} 1',
      'dialback_edge_pairs{state="pending"} 1',
      'dialback_edge_pairs{state="valid"} 3',
      'dialback_edge_dialback_outcomes_total{condition="remote-server-timeout"} 1',
      'dialback_edge_verification_latency_seconds_bucket{le="0.025"} 1',
      'dialback_edge_verification_latency_seconds_bucket{le="2.5"} 1',
      'dialback_edge_verification_latency_seconds_bucket{le="5"} 2',
      'dialback_edge_verification_latency_seconds_bucket{le="+Inf"} 2',
      "dialback_edge_verification_latency_seconds_sum 3.02",
      "dialback_edge_verification_latency_seconds_count 2",
      'dialback_edge_bounced_stanzas_total{condition="remote-server-not-found"} 1',
      "# TYPE dialback_edge_verification_latency_seconds histogram",
    ]) {
      expect(text).toContain(line);
    }
    expect(text).toContain('dialback_edge_dialback_outcomes_total{condition="valid"} 2');
  });
});

describe("POST /admin/v1/dialback/verify (Authoritative Server over HTTP)", () => {
  const keys = new DialbackKeys("test-secret-0123456789abcdef");
  const input = { receiving: asDomain("peer.example"), originating: asDomain("edge.test"), streamId: asStreamId("D60000229F") };

  it("answers valid for a key we issued and invalid for any other; never returns the secret", async () => {
    const key = await keys.generate(input);
    const ok = await admin("/dialback/verify", { method: "POST", json: { ...input, key } });
    expect(ok.status).toBe(200);
    const text = await ok.text();
    expect(JSON.parse(text)).toEqual({ result: "valid" });
    expect(text).not.toContain("test-secret");
    const forOther = await admin("/dialback/verify", { method: "POST", json: { ...input, receiving: "third.example", key } });
    expect(await forOther.json()).toEqual({ result: "invalid" });
    const otherId = await admin("/dialback/verify", { method: "POST", json: { ...input, streamId: "D60000229G", key } });
    expect(await otherId.json()).toEqual({ result: "invalid" });
    const metrics = await (await admin("/metrics")).text();
    expect(metrics).toContain('dialback_edge_http_verify_total{result="valid"} 1');
    expect(metrics).toContain('dialback_edge_http_verify_total{result="invalid"} 2');
  });

  it("404 for an originating domain we do not host (XEP-0220 item-not-found), 422 for bad input", async () => {
    const res = await admin("/dialback/verify", { method: "POST", json: { ...input, originating: "elsewhere.example", key: "00" } });
    expect(res.status).toBe(404);
    expect((await problemOf(res)).detail).toBe("originating 'elsewhere.example' is not hosted by this edge");
    const missing = await admin("/dialback/verify", { method: "POST", json: { receiving: "peer.example" } });
    expect(missing.status).toBe(422);
    expect((await problemOf(missing)).detail).toContain("body.originating");
    expect((await admin("/dialback/verify", { method: "POST", json: { ...input, receiving: "a b", key: "00" } })).status).toBe(422);
  });
});

describe("/admin/v1/peers/{domain}", () => {
  it("GET shows the policy decision, live sessions and pairs, and the last attempts", async () => {
    const res = await admin("/peers/peer.example");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      domain: "peer.example",
      policy: { level: "verified", rule: null, denied: false },
      sessions: ["s-in-1", "s-out-1"],
      inbound: [{ outcome: "failure", condition: "forbidden", detail: "authority said invalid" }],
      outbound: [],
    });
  });

  it("check stops at the policy step for a denied peer, with the dialback condition", async () => {
    await admin("/policy/domains/blocked.example", { method: "PUT", json: { action: "deny" } });
    const res = await admin("/peers/blocked.example/check", { method: "POST" });
    expect(res.status).toBe(200);
    const r = await res.json<{ ok: boolean; steps: { step: string; ok: boolean; condition?: string; detail: string; ms: number }[] }>();
    expect(r.ok).toBe(false);
    expect(r.steps).toEqual([{ step: "policy", ok: false, condition: "forbidden", ms: expect.any(Number), detail: "federation with blocked.example is denied by local policy (rule 'blocked.example')" }]);
    const seen = await (await admin("/peers/blocked.example")).json<{ outbound: { outcome: string; condition: string }[]; policy: { denied: boolean } }>();
    expect(seen.policy.denied).toBe(true);
    expect(seen.outbound[0]).toMatchObject({ outcome: "failure", condition: "forbidden" });
  });

  it("check reports a refused connection at the connect step after resolving the static route", async () => {
    const env2 = { ...env, S2S_STATIC_ROUTES: "closed.example=127.0.0.1:1" };
    const res = await app.request("https://edge.test/admin/v1/peers/closed.example/check", {
      method: "POST",
      headers: { authorization: "Bearer test-admin-token-0123456789", "content-type": "application/json" },
      body: JSON.stringify({ from: "chat.edge.test" }),
    }, env2);
    expect(res.status).toBe(200);
    const r = await res.json<{ from: string; ok: boolean; steps: { step: string; ok: boolean; detail: string; condition?: string }[] }>();
    expect(r.from).toBe("chat.edge.test");
    expect(r.steps.map((s) => [s.step, s.ok])).toEqual([["policy", true], ["resolve", true], ["connect", false]]);
    expect(r.steps[1]!.detail).toBe("127.0.0.1:1 (static)");
    expect(r.steps[2]).toMatchObject({ condition: "remote-server-not-found", detail: expect.stringContaining("127.0.0.1:1") });
  });

  it("check refuses a from that is not hosted, or a hosted peer", async () => {
    const res = await admin("/peers/peer.example/check", { method: "POST", json: { from: "peer.example" } });
    expect(res.status).toBe(422);
    expect((await problemOf(res)).detail).toBe("from 'peer.example' is not one of EDGE_DOMAINS (edge.test, chat.edge.test)");
    expect((await admin("/peers/edge.test/check", { method: "POST" })).status).toBe(422);
  });
});
