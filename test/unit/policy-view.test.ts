// DocumentPolicyView: the engine's PolicyView port over a policy document, unit-tested and then
// plugged into real engines (test/unit/engine/harness.ts) so the peer sees the right dialback error.
import { describe, expect, it } from "vitest";
import { DocumentPolicyView, parsePolicy, type PolicyDocument, type PolicyDocumentInput } from "../../src/policy/index.js";
import type { PolicyView } from "../../src/engine/index.js";
import { World, d, msg } from "./engine/harness.js";

function doc(input: PolicyDocumentInput): PolicyDocument {
  const r = parsePolicy(input);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.document;
}

const view = (input: PolicyDocumentInput, limits = {}) => new DocumentPolicyView(doc(input), { hosted: ["edge.test"], limits });

describe("DocumentPolicyView", () => {
  it("knows hosted domains", () => {
    const v = view({});
    expect(v.isHosted(d("edge.test"))).toBe(true);
    expect(v.isHosted(d("peer.test"))).toBe(false);
  });

  it("maps levels, knobs and refusals to the engine's RemotePolicy", () => {
    const v = view({
      level: "encrypted",
      domains: { "*.bad.test": { action: "deny" }, "legacy.test": { action: "allow", level: "verified" }, "bank.test": { action: "allow", level: "trusted" } },
      knobs: { bidi: false, onPairFailure: "close-stream" },
    });
    expect(v.forRemote(d("peer.test"))).toEqual({ allowed: true, minLevel: "encrypted", bidi: false, onPairFailure: "close-stream" });
    expect(v.forRemote(d("legacy.test"))).toMatchObject({ allowed: true, minLevel: "verified" });
    expect(v.forRemote(d("bank.test"))).toMatchObject({ allowed: true, minLevel: "trusted" });
    expect(v.forRemote(d("x.bad.test"))).toEqual({ allowed: false, condition: "forbidden", reason: expect.stringContaining("'*.bad.test'") });
  });

  it("allowlist-only refuses strangers with forbidden", () => {
    const v = view({ allowlistOnly: true, domains: { "friend.test": { action: "allow" } } });
    expect(v.forRemote(d("friend.test")).allowed).toBe(true);
    expect(v.forRemote(d("stranger.test"))).toMatchObject({ allowed: false, condition: "forbidden" });
  });

  it("for a peer not yet named, asks for TLS only when every accepted domain needs it", () => {
    expect(view({ level: "encrypted" }).forRemote(undefined)).toMatchObject({ allowed: true, minLevel: "encrypted" });
    expect(view({ level: "encrypted", domains: { "legacy.test": { action: "allow", level: "verified" } } }).forRemote(undefined)).toMatchObject({ minLevel: "verified" });
  });

  it("permissive maps to verified: the engine always runs dialback", () => {
    expect(view({ level: "permissive", allowPermissive: true }).forRemote(d("peer.test"))).toMatchObject({ allowed: true, minLevel: "verified" });
  });

  it("limits: the document's maxPendingPerStream wins over the deployment default", () => {
    expect(view({}, { maxPendingPerStream: 7 }).limits().maxPendingPerStream).toBe(7);
    expect(view({ knobs: { maxPendingPerStream: 3 } }, { maxPendingPerStream: 7 }).limits().maxPendingPerStream).toBe(3);
  });

  it("limits: maxPairsPerStream, maxStanzaBytes and keyFormulas from the knobs, else the deployment defaults", () => {
    expect(view({}).limits()).toMatchObject({ maxPairsPerStream: 10_000 });
    expect(view({}).limits().maxStanzaBytes).toBeUndefined();
    expect(view({}).limits().keyFormulas).toBeUndefined();
    const deployment = { maxStanzaBytes: 65_536, keyFormulas: ["xep0185"] as const };
    expect(view({}, deployment).limits()).toMatchObject({ maxStanzaBytes: 65_536, keyFormulas: ["xep0185"] });
    expect(
      view({ knobs: { maxPairsPerStream: 5, maxStanzaBytes: 4096, keyFormulas: ["originating-first"] } }, deployment).limits(),
    ).toMatchObject({ maxPairsPerStream: 5, maxStanzaBytes: 4096, keyFormulas: ["originating-first"] });
  });
});

describe("DocumentPolicyView driving the engine (receiving side refuses a new pair)", () => {
  function world(receivingPolicy: PolicyDocumentInput, canStartTls: boolean) {
    const w = new World();
    const capulet = w.server("capulet", { domains: ["capulet.example"], canStartTls });
    const montague = w.server("montague", { domains: ["montague.example"], canStartTls });
    (montague as { policy: PolicyView }).policy = new DocumentPolicyView(doc(receivingPolicy), { hosted: ["montague.example"] });
    const { out, in: inbound } = w.connect(capulet, "capulet.example", "montague.example");
    out.sendStanza(msg("juliet@capulet.example", "romeo@montague.example", "m1"), w.clock.now);
    return { w, capulet, montague, out, inbound };
  }

  it("a deny rule: the originating side gets dialback error forbidden and its stanza bounces", async () => {
    const { w, capulet, montague, out } = world({ domains: { "*.example": { action: "deny" } } }, false);
    await w.run();
    expect(montague.delivered).toEqual([]);
    expect(out.pairState("outbound", d("capulet.example"), d("montague.example"))).not.toBe("valid");
    expect(capulet.pairEvents.at(-1)).toMatchObject({ state: "error", condition: "forbidden" });
    expect(capulet.bounced).toEqual([expect.objectContaining({ condition: "remote-server-timeout" })]);
  });

  it("level encrypted over plaintext: dialback error policy-violation (XEP-0220 §2.4)", async () => {
    const { w, capulet, montague } = world({ level: "encrypted" }, false);
    await w.run();
    expect(montague.delivered).toEqual([]);
    expect(capulet.pairEvents.at(-1)).toMatchObject({ state: "error", condition: "policy-violation" });
  });

  it("level encrypted with STARTTLS available: the pair verifies and the stanza is delivered", async () => {
    const { w, montague } = world({ level: "encrypted" }, true);
    await w.run();
    expect(montague.delivered.map((x) => x.stanza.attrs.id)).toEqual(["m1"]);
  });

  it("knobs.maxPairsPerStream 1: the second pair on the stream gets resource-constraint, the first keeps working", async () => {
    const w = new World();
    const capulet = w.server("capulet", { domains: ["capulet.example", "rooms.capulet.example"] });
    const montague = w.server("montague", { domains: ["montague.example"] });
    (montague as { policy: PolicyView }).policy = new DocumentPolicyView(doc({ knobs: { maxPairsPerStream: 1 } }), { hosted: ["montague.example"] });
    const { out } = w.connect(capulet, "capulet.example", "montague.example");
    out.sendStanza(msg("juliet@capulet.example", "romeo@montague.example", "m1"), w.clock.now);
    await w.run();
    out.sendStanza(msg("nurse@rooms.capulet.example", "romeo@montague.example", "m2"), w.clock.now);
    await w.run();
    out.sendStanza(msg("juliet@capulet.example", "romeo@montague.example", "m3"), w.clock.now);
    await w.run();
    expect(montague.delivered.map((x) => x.stanza.attrs.id)).toEqual(["m1", "m3"]);
    expect(capulet.pairEvents.at(-1)).toMatchObject({ local: "rooms.capulet.example", state: "error", condition: "resource-constraint" });
    // XEP-0220 §2.4: stanzas queued behind a dialback error return with remote-server-timeout.
    expect(capulet.bounced).toEqual([expect.objectContaining({ condition: "remote-server-timeout" })]);
  });

  it("level trusted without a valid certificate: not-authorized", async () => {
    const { w, capulet, montague } = world({ level: "trusted" }, true);
    await w.run();
    expect(montague.delivered).toEqual([]);
    expect(capulet.pairEvents.at(-1)).toMatchObject({ state: "error", condition: "not-authorized" });
  });
});

describe("DocumentPolicyView: XEP-0238 type 1 (knob xmppVersion)", () => {
  it("is legacy (pre-1.0 streams, no TLS) only with xmppVersion 0.9", () => {
    expect(view({}).legacy).toBe(false);
    expect(view({ knobs: { xmppVersion: "1.0" } }).legacy).toBe(false);
    expect(view({ knobs: { xmppVersion: "0.9" } }).legacy).toBe(true);
  });
});
