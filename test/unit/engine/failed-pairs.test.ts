// Issue 10.8: a stream on which the peer keeps claiming domains it cannot prove (each claim makes us
// send a db:verify to the claimed domain's authority) is closed once it has more failed pairs than
// maxFailedPairsPerStream (MAX_FAILED_PAIRS, default 5); up to that, seed 001's rule holds: a failed
// pair gets its dialback error and the verified pairs on the stream carry on.

import { describe, expect, it } from "vitest";
import { DEFAULT_ENGINE_LIMITS, S2SStream, type VerifyOutcome } from "../../../src/engine/index.js";
import { ALLOW, TestPolicy, auditEvents, d, el, openReceiving, sentElements, show } from "./harness.js";

const NOW = 9000;
const LOCAL = "montague.example";

const result = (from: string) => el(`<db:result from='${from}' to='${LOCAL}'>${"k".repeat(16)}</db:result>`);
const stanza = (from: string, id: string) =>
  el(`<message xmlns='jabber:server' from='u@${from}' to='v@${LOCAL}' id='${id}'><body>x</body></message>`);

/** The peer claims `from`; the authority's answer is `outcome`. Returns the actions that followed. */
function claim(s: S2SStream, from: string, outcome: VerifyOutcome) {
  s.handleElement(result(from), NOW);
  const v = s.drainActions().find((a) => a.type === "verify");
  if (v?.type !== "verify") throw new Error(`no verify for ${from}`);
  s.handleVerifyResult(v.handle, outcome, NOW);
  return s.drainActions();
}

/** A receiving stream (dialback errors announced) on which capulet.example -> montague.example is verified. */
function verifiedStream(id: string, limits = {}) {
  const s = openReceiving({ now: NOW, local: LOCAL, remote: "capulet.example", id, limits });
  expect(s.peerDialbackErrors).toBe(true);
  claim(s, "capulet.example", { type: "valid" });
  return s;
}

const forbidden = (to: string) =>
  `<db:result from="${LOCAL}" to="${to}" type="error"><error type="auth"><forbidden xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></db:result>`;

describe("MAX_FAILED_PAIRS (issue 10.8)", () => {
  it("defaults to 5", () => {
    expect(DEFAULT_ENGINE_LIMITS.maxFailedPairsPerStream).toBe(5);
  });

  it("keeps the stream through 5 spoofed pairs, then closes it with policy-violation at the 6th", () => {
    const s = verifiedStream("F1");
    for (let i = 1; i <= 5; i++) {
      const out = claim(s, `victim${i}.example`, { type: "invalid" });
      // Seed 001: a dialback error for that pair only; the stream and its verified pair stay.
      expect(sentElements(out)).toEqual([forbidden(`victim${i}.example`)]);
      expect(out.some((a) => a.type === "closed")).toBe(false);
    }
    s.handleElement(stanza("capulet.example", "still"), NOW);
    expect(s.drainActions().map((a) => a.type)).toEqual(["deliver"]);

    const out = claim(s, "victim6.example", { type: "invalid" });
    expect(show(out)).toEqual([
      "audit spoofing-attempt",
      `send ${forbidden("victim6.example")}`,
      `pair inbound ${LOCAL} victim6.example invalid forbidden`,
      "audit policy-refusal",
      expect.stringMatching(/^send <stream:error><policy-violation xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/><text [^>]*>too many failed domain pairs/),
      "send close",
      "closed us policy-violation",
    ]);
    expect(s.phase).toBe("closed");
  });

  it("counts authority errors and timeouts too, but not a refusal for our own lack of capacity", () => {
    const s = verifiedStream("F2", { maxFailedPairsPerStream: 2 });
    // resource-constraint: the edge's verification budget said no; not the peer's failure.
    for (let i = 0; i < 3; i++) claim(s, `busy${i}.example`, { type: "error", condition: "resource-constraint" });
    expect(s.phase).toBe("open");
    claim(s, "gone.example", { type: "error", condition: "remote-server-not-found" });
    // A claim nobody answers fails at the dialback deadline.
    s.handleElement(result("silent.example"), NOW);
    s.drainActions();
    s.handleTimeout(NOW + 90_000);
    expect(s.phase).toBe("open");
    const out = claim(s, "third.example", { type: "invalid" });
    expect(show(out)).toContain("closed us policy-violation");
  });

  it("MAX_FAILED_PAIRS=0 closes at the first failed pair", () => {
    const s = verifiedStream("F3", { maxFailedPairsPerStream: 0 });
    expect(show(claim(s, "victim.example", { type: "invalid" }))).toContain("closed us policy-violation");
  });

  it("a failed pair retried counts again (each claim cost a db:verify)", () => {
    const s = verifiedStream("F4", { maxFailedPairsPerStream: 1 });
    claim(s, "victim.example", { type: "invalid" });
    expect(s.phase).toBe("open");
    expect(show(claim(s, "victim.example", { type: "invalid" }))).toContain("closed us policy-violation");
  });

  it("the count survives snapshot/restore (hibernation)", () => {
    const limits = { maxFailedPairsPerStream: 3 };
    const s = verifiedStream("F5", limits);
    claim(s, "v1.example", { type: "invalid" });
    claim(s, "v2.example", { type: "invalid" });
    const snap = JSON.parse(JSON.stringify(s.snapshot()));
    expect(snap.failedPairs).toBe(2);
    const r = S2SStream.restore(snap, { policy: new TestPolicy([LOCAL], ALLOW, limits), transport: { secure: true, canStartTls: false } });
    r.drainActions();
    expect(claim(r, "v3.example", { type: "invalid" }).some((a) => a.type === "closed")).toBe(false);
    const out = claim(r, "v4.example", { type: "invalid" });
    expect(auditEvents(out)).toEqual(["spoofing-attempt", "policy-refusal"]);
    expect(show(out).at(-1)).toBe("closed us policy-violation");
  });

  it("a snapshot from before the count existed restores with none", () => {
    const s = verifiedStream("F6", { maxFailedPairsPerStream: 1 });
    const snap = JSON.parse(JSON.stringify(s.snapshot()));
    delete snap.failedPairs;
    const r = S2SStream.restore(snap, { policy: new TestPolicy([LOCAL], ALLOW, { maxFailedPairsPerStream: 1 }), transport: { secure: true, canStartTls: false } });
    r.drainActions();
    expect(claim(r, "v1.example", { type: "invalid" }).some((a) => a.type === "closed")).toBe(false);
    expect(r.pairState("inbound", d(LOCAL), d("capulet.example"))).toBe("valid");
  });
});
