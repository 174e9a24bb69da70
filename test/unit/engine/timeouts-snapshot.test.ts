// Time is an input: pollTimeout() gives the next deadline, handleTimeout(now) acts on it. And
// snapshot()/restore() carry a stream across Durable Object hibernation mid-dialback.

import { describe, expect, it } from "vitest";
import { S2SStream, type StreamSnapshot } from "../../../src/engine/index.js";
import { asStreamId } from "../../../src/types.js";
import { TestPolicy, World, d, el, msg, openInitiating, s2sHeader, show } from "./harness.js";

const T0 = 100_000;
const timeouts = { negotiation: 10_000, dialback: 20_000, verify: 15_000 };

const openInitiatingI1 = (policy = new TestPolicy(["capulet.example"])) =>
  openInitiating({ now: T0, local: "capulet.example", remote: "montague.example", id: "I1", policy, timeouts });

describe("timeouts", () => {
  it("has no deadline once open and idle; negotiation deadline before that", () => {
    const s = new S2SStream({ role: "receiving", policy: new TestPolicy(["montague.example"]), transport: { secure: true, canStartTls: false }, now: T0, timeouts });
    expect(s.pollTimeout()).toBe(T0 + 10_000);
    s.handleOpen(s2sHeader("capulet.example", "montague.example"), T0 + 5);
    expect(s.pollTimeout()).toBeUndefined();
  });

  it("originating: an unanswered db:result fails the pair and bounces with remote-server-timeout", () => {
    const s = openInitiatingI1();
    s.sendStanza(msg("a@capulet.example", "b@montague.example", "t1"), T0);
    const key = s.drainActions().find((a) => a.type === "key") as { handle: number };
    s.handleKeyGenerated(key.handle, "k", T0 + 1);
    s.drainActions();
    expect(s.pollTimeout()).toBe(T0 + 1 + 20_000);
    s.handleTimeout(T0 + 1000); // early: nothing
    expect(s.drainActions()).toEqual([]);
    s.handleTimeout(T0 + 1 + 20_000);
    expect(show(s.drainActions())).toEqual([
      "pair outbound capulet.example montague.example error remote-server-timeout",
      "bounce remote-server-timeout t1",
    ]);
    expect(s.phase).toBe("open");
    expect(s.pollTimeout()).toBeUndefined();
    // A late answer is now unsolicited.
    s.handleElement(el(`<db:result from='montague.example' to='capulet.example' type='valid'/>`), T0 + 30_000);
    expect(show(s.drainActions())).toEqual(["audit unsolicited-dialback"]);
  });

  it("receiving: no verdict from the authority in time -> remote-server-timeout dialback error", () => {
    const s = new S2SStream({ role: "receiving", policy: new TestPolicy(["montague.example"]), transport: { secure: true, canStartTls: false }, now: T0, timeouts, newStreamId: () => asStreamId("R") });
    s.handleOpen(s2sHeader("capulet.example", "montague.example"), T0);
    s.handleElement(el(`<db:result from='capulet.example' to='montague.example'>k</db:result>`), T0);
    const v = s.drainActions().find((a) => a.type === "verify") as { handle: number };
    s.handleTimeout(s.pollTimeout()!);
    expect(show(s.drainActions())).toEqual([
      'send <db:result from="montague.example" to="capulet.example" type="error"><error type="wait"><remote-server-timeout xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></db:result>',
      "pair inbound montague.example capulet.example error remote-server-timeout",
    ]);
    // The shell's late verdict is ignored.
    s.handleVerifyResult(v.handle, { type: "valid" }, T0 + 60_000);
    expect(s.drainActions()).toEqual([]);
  });

  it("authority stream: an unanswered db:verify yields verify-result error remote-server-timeout", () => {
    const s = openInitiatingI1();
    const h = s.requestVerify({ from: d("capulet.example"), to: d("montague.example"), id: "X", key: "k" }, T0);
    s.drainActions();
    expect(s.pollTimeout()).toBe(T0 + 15_000);
    s.handleTimeout(T0 + 15_000);
    expect(show(s.drainActions())).toEqual([`verify-result ${h} error remote-server-timeout`]);
  });

  it("pending verifications on an authority stream that never opened fail with remote-connection-failed", () => {
    const s = new S2SStream({ role: "initiating", policy: new TestPolicy(["capulet.example"]), transport: { secure: true, canStartTls: false }, now: T0, local: d("capulet.example"), remote: d("montague.example") });
    s.start(T0);
    const h = s.requestVerify({ from: d("capulet.example"), to: d("montague.example"), id: "X", key: "k" }, T0);
    s.drainActions();
    s.handleTransportClosed(T0 + 5);
    expect(show(s.drainActions())).toEqual([`verify-result ${h} error remote-connection-failed`, "closed transport"]);
  });

  it("pending verifications fail when the authority stream closes (XEP-0220 §2.1.2)", () => {
    const s = openInitiatingI1();
    const h = s.requestVerify({ from: d("capulet.example"), to: d("montague.example"), id: "X", key: "k" }, T0);
    s.drainActions();
    s.handleTransportClosed(T0 + 5);
    expect(show(s.drainActions())).toEqual([`verify-result ${h} error remote-server-timeout`, "closed transport"]);
  });
});

describe("snapshot / restore (hibernation)", () => {
  it("resumes a receiving stream with a pending pair and a verified pair from JSON", () => {
    const policy = new TestPolicy(["montague.example"]);
    const s = new S2SStream({ role: "receiving", policy, transport: { secure: true, canStartTls: false }, now: T0, timeouts, newStreamId: () => asStreamId("HIB") });
    s.handleOpen(s2sHeader("capulet.example", "montague.example"), T0);
    s.handleElement(el(`<db:result from='capulet.example' to='montague.example'>k1</db:result>`), T0);
    s.handleElement(el(`<db:result from='rooms.capulet.example' to='montague.example'>k2</db:result>`), T0);
    const vs = s.drainActions().filter((a) => a.type === "verify") as { handle: number }[];
    s.handleVerifyResult(vs[0]!.handle, { type: "valid" }, T0);
    s.drainActions();

    const snap = JSON.parse(JSON.stringify(s.snapshot())) as StreamSnapshot;
    const r = S2SStream.restore(snap, { policy, transport: { secure: true, canStartTls: false }, timeouts });
    expect(r.streamId).toBe("HIB");
    expect(r.pendingCount).toBe(1);
    expect(r.pollTimeout()).toBe(T0 + 20_000);
    r.handleVerifyResult(vs[1]!.handle, { type: "valid" }, T0 + 5);
    r.handleElement(msg("a@capulet.example", "b@montague.example", "x"), T0 + 6);
    r.handleElement(msg("a@rooms.capulet.example", "b@montague.example", "y"), T0 + 6);
    expect(show(r.drainActions()).filter((x) => x.startsWith("deliver")).length).toBe(2);
  });

  it("resumes an initiating stream with queued stanzas (as XML) and outstanding verifies", () => {
    const policy = new TestPolicy(["capulet.example"]);
    const s = openInitiatingI1(policy);
    s.sendStanza(msg("a@capulet.example", "b@montague.example", "q1"), T0);
    const key = s.drainActions().find((a) => a.type === "key") as { handle: number };
    s.handleKeyGenerated(key.handle, "thekey", T0);
    const h = s.requestVerify({ from: d("capulet.example"), to: d("montague.example"), id: "V1", key: "vk" }, T0);
    s.drainActions();
    const snap = JSON.parse(JSON.stringify(s.snapshot())) as StreamSnapshot;
    expect(snap.outbound[0]![1]).toMatchObject({ state: "pending", queue: [expect.stringContaining('id="q1"')] });
    const r = S2SStream.restore(snap, { policy, transport: { secure: true, canStartTls: false }, timeouts });
    expect(r.drainActions()).toEqual([]);
    r.handleElement(el(`<db:result from='montague.example' to='capulet.example' type='valid'/>`), T0 + 1);
    r.handleElement(el(`<db:verify from='montague.example' to='capulet.example' id='V1' type='invalid'/>`), T0 + 1);
    expect(show(r.drainActions())).toEqual([
      "pair outbound capulet.example montague.example valid",
      'send <message xmlns="jabber:server" from="a@capulet.example" to="b@montague.example" id="q1" type="chat"><body>hi</body></message>',
      `verify-result ${h} invalid`,
    ]);
  });

  it("asks the authority again for a pair pending at snapshot time (same handle, key and stream id)", () => {
    const policy = new TestPolicy(["montague.example"]);
    const s = new S2SStream({ role: "receiving", policy, transport: { secure: true, canStartTls: false }, now: T0, timeouts, newStreamId: () => asStreamId("HIB2") });
    s.handleOpen(s2sHeader("capulet.example", "montague.example"), T0);
    s.handleElement(el(`<db:result from='capulet.example' to='montague.example'>k9</db:result>`), T0);
    const v = s.drainActions().find((a) => a.type === "verify") as { handle: number };
    // The question went out from the old instance; its answer has nobody to go to.
    const r = S2SStream.restore(JSON.parse(JSON.stringify(s.snapshot())) as StreamSnapshot, { policy, transport: { secure: true, canStartTls: false }, timeouts });
    expect(r.drainActions()).toEqual([{ type: "verify", handle: v.handle, from: "montague.example", to: "capulet.example", id: "HIB2", key: "k9" }]);
    r.handleVerifyResult(v.handle, { type: "valid" }, T0 + 1);
    expect(show(r.drainActions())).toContain("pair inbound montague.example capulet.example valid");
    // A snapshot from before keys were kept restores the pair as pending, asking nothing.
    const old = JSON.parse(JSON.stringify(s.snapshot())) as StreamSnapshot;
    for (const [, rec] of old.inbound) if (rec.state === "pending") delete rec.key;
    const o = S2SStream.restore(old, { policy, transport: { secure: true, canStartTls: false }, timeouts });
    expect(o.drainActions()).toEqual([]);
    expect(o.pendingCount).toBe(1);
  });

  it("one db:verify answer settles every request asked for the same id, pair and key", () => {
    const policy = new TestPolicy(["capulet.example"]);
    const s = openInitiatingI1(policy);
    const req = { from: d("capulet.example"), to: d("montague.example"), id: "V7", key: "same" };
    const h1 = s.requestVerify(req, T0);
    const h2 = s.requestVerify(req, T0);
    const h3 = s.requestVerify({ ...req, key: "other" }, T0);
    s.drainActions();
    s.handleElement(el(`<db:verify from='montague.example' to='capulet.example' id='V7' type='valid'/>`), T0 + 1);
    expect(show(s.drainActions())).toEqual([`verify-result ${h1} valid`, `verify-result ${h2} valid`]);
    // A request with another key waits for its own answer.
    s.handleElement(el(`<db:verify from='montague.example' to='capulet.example' id='V7' type='invalid'/>`), T0 + 2);
    expect(show(s.drainActions())).toEqual([`verify-result ${h3} invalid`]);
  });

  it("re-requests key work that was in flight at snapshot time", () => {
    const policy = new TestPolicy(["capulet.example"]);
    const s = openInitiatingI1(policy);
    s.authenticate(d("capulet.example"), d("montague.example"), T0);
    s.drainActions(); // the key action is lost with the isolate
    const r = S2SStream.restore(JSON.parse(JSON.stringify(s.snapshot())) as StreamSnapshot, { policy, transport: { secure: true, canStartTls: false } });
    expect(show(r.drainActions())).toEqual(["key generate montague.example capulet.example I1"]);
  });

  it("a full world round trip survives snapshotting every stream between steps", async () => {
    const world = new World();
    const capulet = world.server("capulet", { domains: ["capulet.example"] });
    const montague = world.server("montague", { domains: ["montague.example"] });
    const { out } = world.connect(capulet, "capulet.example", "montague.example");
    out.sendStanza(msg("a@capulet.example", "b@montague.example", "w"), world.clock.now);
    await world.run();
    expect(montague.delivered).toHaveLength(1);
    // Snapshots of every stream in the world are JSON-clean.
    for (const s of [out, ...montague.authorityStreams.values()]) {
      const snap = s.snapshot();
      expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
    }
  });
});

describe("revision (when to save a snapshot)", () => {
  it("moves on dialback and queueing, not on stanza traffic over verified pairs", () => {
    const policy = new TestPolicy(["montague.example"]);
    const s = new S2SStream({ role: "receiving", policy, transport: { secure: true, canStartTls: false }, now: T0, newStreamId: () => asStreamId("REV") });
    const r0 = s.revision;
    s.handleOpen(s2sHeader("capulet.example", "montague.example"), T0);
    s.handleElement(el(`<db:result from='capulet.example' to='montague.example'>k</db:result>`), T0);
    const v = s.drainActions().find((a) => a.type === "verify") as { handle: number };
    s.handleVerifyResult(v.handle, { type: "valid" }, T0);
    s.drainActions();
    const r1 = s.revision;
    expect(r1).toBeGreaterThan(r0);
    const snap = JSON.stringify(s.snapshot());
    for (let i = 0; i < 5; i++) s.handleElement(msg("a@capulet.example", "b@montague.example", `x${i}`), T0);
    expect(s.drainActions()).toHaveLength(5);
    expect(s.revision).toBe(r1);
    expect(JSON.stringify(s.snapshot())).toBe(snap);
  });

  it("moves when a stanza is queued behind dialback (no action is emitted for it)", () => {
    const s = openInitiatingI1();
    s.sendStanza(msg("a@capulet.example", "b@montague.example", "q1"), T0);
    const r = s.revision;
    s.sendStanza(msg("a@capulet.example", "b@montague.example", "q2"), T0);
    expect(s.revision).toBe(r + 1);
  });
});

describe("stream restart after STARTTLS", () => {
  it("forgets a bidi request made before TLS (XEP-0288 §2.1: TLS first)", () => {
    const s = new S2SStream({ role: "receiving", policy: new TestPolicy(["montague.example"]), transport: { secure: false, canStartTls: true }, now: T0 });
    s.handleOpen(s2sHeader("capulet.example", "montague.example"), T0);
    s.handleElement(el(`<bidi xmlns='urn:xmpp:bidi'/>`), T0);
    expect(s.bidi).toBe(true);
    s.handleElement(el(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`), T0);
    s.handleTlsEstablished({ peerCertificate: { status: "none", names: [] } }, T0);
    expect(s.bidi).toBe(false);
    s.handleOpen(s2sHeader("capulet.example", "montague.example"), T0);
    expect(s.secure).toBe(true);
    s.handleElement(el(`<bidi xmlns='urn:xmpp:bidi'/>`), T0);
    expect(s.bidi).toBe(true);
  });
});
