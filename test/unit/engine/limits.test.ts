// Per-stream limits from PolicyView.limits(): maxPairsPerStream (XEP-0220 §3 multiplexing has no
// cap of its own; ours refuses the one pair too many with a dialback error and leaves the others),
// and the key formulas accepted when we answer db:verify as Authoritative Server (XEP-0185 §3).

import { describe, expect, it } from "vitest";
import { DialbackKeys } from "../../../src/dialback/keys.js";
import { drive, S2SStream } from "../../../src/engine/index.js";
import { asStreamId } from "../../../src/types.js";
import { ALLOW, TestPolicy, auditEvents, d, el, msg, openInitiating, openReceiving, sentElements, show } from "./harness.js";

const NOW = 7000;
const LOCAL = "montague.example";

const result = (from: string, key = "k".repeat(8)) => el(`<db:result from='${from}' to='${LOCAL}'>${key}</db:result>`);
const stanza = (from: string, id: string) =>
  el(`<message xmlns='jabber:server' from='u@${from}' to='v@${LOCAL}' id='${id}'><body>x</body></message>`);

/** Answers every pending `verify` action (by sender domain, default valid); drains the answers. */
function answerVerifies(s: S2SStream, outcomes: Record<string, "valid" | "invalid">): void {
  for (const a of s.drainActions()) {
    if (a.type === "verify") s.handleVerifyResult(a.handle, { type: outcomes[a.to] ?? "valid" }, NOW);
  }
  s.drainActions();
}

describe("maxPairsPerStream, receiving side", () => {
  it("refuses the pair over the cap with resource-constraint and keeps the stream and its pairs", () => {
    const s = openReceiving({ now: NOW, local: LOCAL, remote: "a.example", id: "L1", limits: { maxPairsPerStream: 2 } });
    s.handleElement(result("a.example"), NOW);
    s.handleElement(result("b.example"), NOW);
    answerVerifies(s, {});
    expect(s.pairCount).toBe(2);

    s.handleElement(result("c.example"), NOW);
    const out = s.drainActions();
    // XEP-0220 §2.4 dialback error; RFC 6120 §8.3.3.18 resource-constraint is type 'wait'.
    expect(sentElements(out)).toEqual([
      `<db:result from="${LOCAL}" to="c.example" type="error"><error type="wait"><resource-constraint xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></db:result>`,
    ]);
    expect(show(out)).toContain(`pair inbound ${LOCAL} c.example error resource-constraint`);
    expect(auditEvents(out)).toEqual(["policy-refusal"]);
    expect(out.some((a) => a.type === "verify" || a.type === "closed")).toBe(false);

    // The verified pairs still carry stanzas; the refused one does not exist.
    s.handleElement(stanza("a.example", "m1"), NOW);
    s.handleElement(stanza("b.example", "m2"), NOW);
    expect(s.drainActions().map((a) => (a.type === "deliver" ? a.stanza.attrs.id : a.type))).toEqual(["m1", "m2"]);
    expect(s.pairState("inbound", d(LOCAL), d("c.example"))).toBe("none");
    expect(s.phase).toBe("open");
  });

  it("counts pending pairs too, and frees a slot when a pair fails", () => {
    const s = openReceiving({ now: NOW, local: LOCAL, remote: "a.example", id: "L2", limits: { maxPairsPerStream: 2 } });
    s.handleElement(result("a.example"), NOW);
    s.handleElement(result("b.example"), NOW);
    const verifies = s.drainActions().filter((a) => a.type === "verify");
    expect(verifies).toHaveLength(2);
    s.handleElement(result("c.example"), NOW); // two pending: full
    expect(show(s.drainActions())).toContain(`pair inbound ${LOCAL} c.example error resource-constraint`);

    // b's key is invalid: its pair goes (dialback error forbidden, keep-stream), c may now come in.
    s.handleVerifyResult(verifies[1]!.handle, { type: "invalid" }, NOW);
    s.drainActions();
    expect(s.pairCount).toBe(1);
    s.handleElement(result("c.example"), NOW);
    expect(s.drainActions().filter((a) => a.type === "verify").map((a) => (a as { to: string }).to)).toEqual(["c.example"]);
  });

  it("sends the dialback error even to a pre-XMPP-1.0 peer rather than closing its verified pairs (XEP-0220 §2.4)", () => {
    const s = openReceiving({
      now: NOW,
      local: LOCAL,
      remote: "a.example",
      id: "L3",
      limits: { maxPairsPerStream: 1 },
      header: { xmlns: "jabber:server", "xmlns:db": "jabber:server:dialback", to: LOCAL },
    });
    expect(s.peerDialbackErrors).toBe(false);
    s.handleElement(result("a.example"), NOW);
    answerVerifies(s, {});
    s.handleElement(result("b.example"), NOW);
    const out = s.drainActions();
    expect(sentElements(out)).toEqual([expect.stringContaining(`to="b.example" type="error"><error type="wait"><resource-constraint`)]);
    expect(out.some((a) => a.type === "closed")).toBe(false);
    s.handleElement(stanza("a.example", "m1"), NOW);
    expect(s.drainActions().map((a) => a.type)).toEqual(["deliver"]);
  });

  it("the cap survives hibernation: a restored full stream still refuses", () => {
    const limits = { maxPairsPerStream: 1 };
    const s = openReceiving({ now: NOW, local: LOCAL, remote: "a.example", id: "L4", limits });
    s.handleElement(result("a.example"), NOW);
    answerVerifies(s, {});
    const r = S2SStream.restore(JSON.parse(JSON.stringify(s.snapshot())), {
      policy: new TestPolicy([LOCAL], ALLOW, limits),
      transport: { secure: true, canStartTls: false },
    });
    r.drainActions();
    expect(r.pairCount).toBe(1);
    r.handleElement(result("b.example"), NOW);
    expect(show(r.drainActions())).toContain(`pair inbound ${LOCAL} b.example error resource-constraint`);
  });
});

describe("maxPairsPerStream, originating side", () => {
  it("fails the new pair with resource-constraint and bounces its stanza; the first pair is untouched", () => {
    const s = openInitiating({
      now: NOW,
      local: "capulet.example",
      remote: LOCAL,
      id: "O1",
      hosted: ["capulet.example", "rooms.capulet.example"],
      limits: { maxPairsPerStream: 1 },
    });
    s.sendStanza(msg("a@capulet.example", `b@${LOCAL}`, "first"), NOW);
    s.drainActions();
    s.sendStanza(msg("a@rooms.capulet.example", `b@${LOCAL}`, "second"), NOW);
    const out = show(s.drainActions());
    expect(out).toContain(`pair outbound rooms.capulet.example ${LOCAL} error resource-constraint`);
    expect(out.filter((x) => x.startsWith("bounce"))).toEqual([expect.stringContaining("resource-constraint")]);
    expect(s.pairState("outbound", d("capulet.example"), d(LOCAL))).toBe("pending");
    expect(s.pairCount).toBe(1);
  });

  it("counts both directions on a bidirectional stream (XEP-0288)", () => {
    const s = openInitiating({
      now: NOW,
      local: "capulet.example",
      remote: LOCAL,
      id: "O2",
      limits: { maxPairsPerStream: 1 },
      features: "<bidi xmlns='urn:xmpp:features:bidi'/>",
    });
    expect(s.bidi).toBe(true);
    // The peer authenticates towards us on our stream (bidi): one pair, the stream is full.
    s.handleElement(el(`<db:result from='${LOCAL}' to='capulet.example'>abc</db:result>`), NOW);
    expect(s.pairCount).toBe(1);
    s.drainActions();
    s.authenticate(d("capulet.example"), d("other.example"), NOW);
    expect(show(s.drainActions())).toEqual([`pair outbound capulet.example other.example error resource-constraint`]);
  });
});

describe("key formulas from policy (authoritative role)", () => {
  const input = { receiving: d("capulet.example"), originating: d(LOCAL), streamId: asStreamId("F1") };
  // A key made with the receiving and originating domains swapped: what MongooseIM sends.
  const swappedKey = (keys: DialbackKeys) => keys.generate({ receiving: input.originating, originating: input.receiving, streamId: input.streamId });
  const ask = (s: S2SStream, key: string) =>
    s.handleElement(el(`<db:verify from='capulet.example' to='${LOCAL}' id='F1'>${key}</db:verify>`), NOW);

  for (const [formulas, expected] of [
    [undefined, "invalid"],
    [["xep0185", "originating-first"], "valid"],
  ] as const) {
    it(`limits().keyFormulas ${formulas ? JSON.stringify(formulas) : "unset"}: the swapped key is ${expected}`, async () => {
      const keys = new DialbackKeys("formula-secret-0123456789"); // built with XEP-0185 only
      const s = openReceiving({ now: NOW, local: LOCAL, remote: "capulet.example", id: "R9", limits: formulas ? { keyFormulas: formulas } : {} });
      ask(s, await swappedKey(keys));
      const out = await drive(s, keys, () => NOW);
      expect(sentElements(out)).toEqual([`<db:verify from="${LOCAL}" to="capulet.example" id="F1" type="${expected}"/>`]);
    });
  }

  it("the check action carries the formulas the policy gives at that moment", () => {
    const policy = new TestPolicy([LOCAL]);
    const s = openReceiving({ now: NOW, local: LOCAL, remote: "capulet.example", id: "R10", policy });
    ask(s, "00");
    policy.lim = { ...policy.lim, keyFormulas: ["originating-first"] };
    ask(s, "01");
    const checks = s.drainActions().flatMap((a) => (a.type === "key" && a.op === "check" ? [a.formulas] : []));
    expect(checks).toEqual([undefined, ["originating-first"]]);
  });
});
