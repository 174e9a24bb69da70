// A policy change re-evaluates every live pair with the transport facts its session reported, and
// asks each session holding a refused pair to revoke it. The index here is fed through RPC; whether
// a session answers (revoked) or not (failed) depends on it, so the tests assert which pairs were
// targeted and that answered ones leave the index. (Live sessions: see the report / session tests.)
import { beforeAll, describe, expect, it } from "vitest";
import { admin, controlPlane, problemOf } from "./admin-helpers.js";
import type { SessionInfo } from "../../durable-objects/lib/session-rpc.js";

type Enforcement = { revoked: { sessionId: string; local: string; remote: string; condition: string }[]; failed: { sessionId: string; local: string; remote: string; error: string }[] };
const targeted = (e: Enforcement) => [...e.revoked, ...e.failed].map((x) => `${x.sessionId} ${x.local} ${x.remote}`).sort();

const info = (id: string, peer: string, tls: boolean): SessionInfo => ({
  id, direction: "inbound", transport: "websocket", peer, tls, bidi: false, openedAt: 0, bytesIn: 0, bytesOut: 0, stanzasIn: 0, stanzasOut: 0,
});

beforeAll(async () => {
  const cp = controlPlane();
  await cp.reportSession(info("enf-plain", "plain.example", false));
  await cp.reportSession(info("enf-tls", "secure.example", true));
  await cp.reportSession(info("enf-spam", "a.spam.example", true));
  await cp.reportPair("enf-plain", { local: "edge.test", remote: "plain.example", direction: "inbound", state: "valid" });
  await cp.reportPair("enf-tls", { local: "edge.test", remote: "secure.example", direction: "inbound", state: "valid" });
  await cp.reportPair("enf-spam", { local: "edge.test", remote: "a.spam.example", direction: "inbound", state: "valid" });
  await cp.reportPair("enf-spam", { local: "chat.edge.test", remote: "a.spam.example", direction: "inbound", state: "pending" });
  // A failed pair is not live: never targeted.
  await cp.reportPair("enf-spam", { local: "edge.test", remote: "b.spam.example", direction: "inbound", state: "invalid" });
});

describe("policy enforcement on live pairs", () => {
  it("a deny rule targets exactly the pending and valid pairs it matches, with forbidden", async () => {
    const res = await admin("/policy/domains/*.spam.example", { method: "PUT", json: { action: "deny" } });
    expect(res.status).toBe(201);
    const { enforcement } = await res.json<{ enforcement: Enforcement }>();
    expect(targeted(enforcement)).toEqual(["enf-spam chat.edge.test a.spam.example", "enf-spam edge.test a.spam.example"]);
    for (const r of enforcement.revoked) expect(r.condition).toBe("forbidden");
    // Revoked pairs leave the index; pairs whose session did not answer stay visible to the operator.
    const left = await (await admin("/pairs?remote=a.spam.example")).json<{ items: { local: string }[] }>();
    expect(left.items.map((p) => p.local).sort()).toEqual(enforcement.failed.map((f) => f.local).sort());
  });

  it("raising the level to encrypted targets only the plaintext stream, with policy-violation", async () => {
    const res = await admin("/policy", { method: "PATCH", json: { level: "encrypted" } });
    const { enforcement } = await res.json<{ enforcement: Enforcement }>();
    const plain = [...enforcement.revoked, ...enforcement.failed].filter((x) => x.sessionId !== "enf-spam");
    expect(plain.map((x) => `${x.sessionId} ${x.remote}`)).toEqual(["enf-plain plain.example"]);
  });

  it("revocations and failures are in the audit log or the response, never silent", async () => {
    const audit = await (await admin("/audit?kind=pair.revoked")).json<{ items: { actor: string; subject: string; detail: string }[] }>();
    for (const a of audit.items) {
      expect(a.actor).toBe("policy");
      expect(a.detail).toMatch(/^session enf-\w+: (forbidden|policy-violation): /);
    }
  });

  it("DELETE /pairs targets every session holding the pair; 404 once none does", async () => {
    const cp = controlPlane();
    await cp.reportSession(info("enf-a", "peer.example", true));
    await cp.reportSession(info("enf-b", "peer.example", true));
    await cp.reportPair("enf-a", { local: "edge.test", remote: "peer.example", direction: "inbound", state: "valid" });
    await cp.reportPair("enf-b", { local: "edge.test", remote: "peer.example", direction: "outbound", state: "valid" });
    const res = await admin("/pairs/edge.test/peer.example", { method: "DELETE", headers: { "x-admin-actor": "bob" } });
    expect(res.status).toBe(200);
    const e = await res.json<Enforcement>();
    expect(targeted(e)).toEqual(["enf-a edge.test peer.example", "enf-b edge.test peer.example"]);
    for (const r of e.revoked) expect(r.condition).toBe("policy-violation");
    // Drop what is left, as sessions do when they close, and the pair is gone.
    await cp.sessionClosed("enf-a");
    await cp.sessionClosed("enf-b");
    const gone = await admin("/pairs/edge.test/peer.example", { method: "DELETE" });
    expect(gone.status).toBe(404);
    await problemOf(gone);
  });
});
