// Issue 10 item 3: 300 streams each claiming the victim's domain were all refused (forbidden) and all
// kept open. A receiving stream whose every claim was refused and that holds no pair is closed after
// timeouts.unpaired (default 10 s) with policy-violation; a stream that still has (or gets) a pair
// is not.
import { describe, expect, it } from "vitest";
import { DEFAULT_TIMEOUTS, S2SStream, type VerifyOutcome } from "../../../src/engine/index.js";
import { TestPolicy, el, openReceiving, sentElements } from "./harness.js";

const NOW = 1000;
const LOCAL = "montague.example";

function claim(s: S2SStream, from: string, outcome: VerifyOutcome | undefined, now = NOW) {
  s.handleElement(el(`<db:result from='${from}' to='${LOCAL}'>${"k".repeat(16)}</db:result>`), now);
  const v = s.drainActions().find((a) => a.type === "verify");
  if (v?.type !== "verify") throw new Error(`no verify for ${from}`);
  if (outcome) s.handleVerifyResult(v.handle, outcome, now);
  return { handle: v.handle, actions: s.drainActions() };
}

describe("a stream whose every claim was refused (issue 10 item 3)", () => {
  it("defaults to 10 s", () => expect(DEFAULT_TIMEOUTS.unpaired).toBe(10_000));

  it("is closed with policy-violation once it has held no pair for timeouts.unpaired after the refusal", () => {
    const s = openReceiving({ now: NOW, local: LOCAL, remote: "victim.example", id: "U1" });
    const { actions } = claim(s, "victim.example", { type: "invalid" });
    expect(actions.some((a) => a.type === "closed")).toBe(false); // XEP-0220 §2.4: the dialback error first
    expect(s.pollTimeout()).toBe(NOW + 10_000);
    s.handleTimeout(NOW + 9_999);
    expect(s.drainActions().some((a) => a.type === "closed")).toBe(false);
    s.handleTimeout(NOW + 10_000);
    const out = s.drainActions();
    expect(sentElements(out).join("")).toMatch(/<policy-violation xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>/);
    expect(out.at(-1)).toMatchObject({ type: "closed", error: "policy-violation" });
  });

  it("is not closed while it holds a verified or pending pair, and a new claim in time disarms the deadline", () => {
    const kept = openReceiving({ now: NOW, local: LOCAL, remote: "capulet.example", id: "U2" });
    claim(kept, "capulet.example", { type: "valid" });
    claim(kept, "victim.example", { type: "invalid" });
    expect(kept.pollTimeout()).toBeUndefined();
    kept.handleTimeout(NOW + 60_000);
    expect(kept.drainActions().some((a) => a.type === "closed")).toBe(false);

    const retry = openReceiving({ now: NOW, local: LOCAL, remote: "capulet.example", id: "U3" });
    claim(retry, "victim.example", { type: "invalid" });
    const { handle } = claim(retry, "capulet.example", undefined, NOW + 5_000); // pending
    retry.handleTimeout(NOW + 10_000);
    expect(retry.drainActions().some((a) => a.type === "closed")).toBe(false);
    retry.handleVerifyResult(handle, { type: "valid" }, NOW + 6_000);
    retry.drainActions();
    retry.handleTimeout(NOW + 30_000);
    expect(retry.drainActions().some((a) => a.type === "closed")).toBe(false);
  });

  it("survives a snapshot: the restored stream closes at the same deadline", () => {
    const s = openReceiving({ now: NOW, local: LOCAL, remote: "victim.example", id: "U4" });
    claim(s, "victim.example", { type: "invalid" });
    const r = S2SStream.restore(JSON.parse(JSON.stringify(s.snapshot())), { policy: new TestPolicy([LOCAL]), transport: { secure: true, canStartTls: false } });
    expect(r.pollTimeout()).toBe(NOW + 10_000);
  });
});
