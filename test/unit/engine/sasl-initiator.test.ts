// SASL EXTERNAL as initiator (XEP-0178 §2, RFC 6120 §6; issue 12): the state machine none ->
// requested -> done | failed, driven by transcripts against the engine and end to end against the
// engine's own receiving side.

import { describe, expect, it } from "vitest";
import { S2SStream, type Action, type RemotePolicy } from "../../../src/engine/index.js";
import { ALLOW, TestPolicy, d, el, msg, receivingStream } from "./harness.js";

const NOW = 7000;
const SASL = "urn:ietf:params:xml:ns:xmpp-sasl";
const peerHeader = (id: string) => ({
  xmlns: "jabber:server", "xmlns:db": "jabber:server:dialback", "xmlns:stream": "http://etherx.jabber.org/streams",
  version: "1.0", from: "montague.example", to: "capulet.example", id,
});
const sends = (as: Action[]) => as.flatMap((a) => (a.type === "send" ? [a.data.kind === "element" ? a.data.element.toString() : a.data.kind] : []));
const FEATURES_EXTERNAL = `<stream:features><mechanisms xmlns='${SASL}'><mechanism>EXTERNAL</mechanism></mechanisms><dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback></stream:features>`;
const FEATURES_DIALBACK = `<stream:features><dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback></stream:features>`;

/** An initiating stream over direct TLS with a CA-valid peer certificate; `localNames`: our client certificate. */
function initiator(localNames: string[] | undefined, policy: RemotePolicy = ALLOW) {
  const s = new S2SStream({
    role: "initiating",
    policy: new TestPolicy(["capulet.example", "verona.example"], policy),
    transport: { secure: true, canStartTls: false, peerCertificate: { status: "valid", names: ["montague.example"] }, ...(localNames ? { localNames } : {}) },
    now: NOW, local: d("capulet.example"), remote: d("montague.example"),
  });
  s.start(NOW);
  s.sendStanza(msg("juliet@capulet.example", "romeo@montague.example", "q1"), NOW);
  s.drainActions();
  s.handleOpen(peerHeader("S1"), NOW);
  return s;
}

describe("XEP-0178 SASL EXTERNAL, initiating side", () => {
  it("offered + our certificate names our domain: <auth mechanism='EXTERNAL'>=</auth>, no dialback key yet", () => {
    const s = initiator(["capulet.example"]);
    s.handleElement(el(FEATURES_EXTERNAL), NOW);
    const out = s.drainActions();
    expect(sends(out)).toEqual([`<auth xmlns="${SASL}" mechanism="EXTERNAL">=</auth>`]);
    expect(out.some((a) => a.type === "key")).toBe(false);
    expect(s.phase).toBe("awaiting-features");
  });

  it("<success/>: restart (new header), then the pair is valid as trusted without dialback and the queued stanza goes out", () => {
    const s = initiator(["capulet.example"]);
    s.handleElement(el(FEATURES_EXTERNAL), NOW);
    s.drainActions();
    s.handleElement(el(`<success xmlns='${SASL}'/>`), NOW);
    const restart = s.drainActions();
    expect(restart.filter((a) => a.type === "send").map((a) => (a as Extract<Action, { type: "send" }>).data.kind)).toEqual(["header"]);
    expect(s.phase).toBe("awaiting-header");
    s.handleOpen(peerHeader("S2"), NOW);
    s.handleElement(el(FEATURES_DIALBACK), NOW);
    const out = s.drainActions();
    expect(out.some((a) => a.type === "key")).toBe(false);
    expect(out.find((a) => a.type === "pair-state")).toMatchObject({ direction: "outbound", local: "capulet.example", remote: "montague.example", state: "valid", level: "trusted", via: "sasl-external" });
    expect(sends(out).some((x) => x.includes('id="q1"'))).toBe(true);
    expect(s.pairState("outbound", d("capulet.example"), d("montague.example"))).toBe("valid");
    // Another hosted domain on the same stream still uses dialback (XEP-0220 §3).
    s.sendStanza(msg("nurse@verona.example", "romeo@montague.example", "q2"), NOW);
    expect(s.drainActions().some((a) => a.type === "key")).toBe(true);
  });

  it("<failure/>: falls back to dialback on the same stream", () => {
    const s = initiator(["capulet.example"]);
    s.handleElement(el(FEATURES_EXTERNAL), NOW);
    s.drainActions();
    s.handleElement(el(`<failure xmlns='${SASL}'><not-authorized/></failure>`), NOW);
    const out = s.drainActions();
    expect(s.phase).toBe("open");
    const key = out.find((a) => a.type === "key") as Extract<Action, { type: "key" }>;
    expect(key).toMatchObject({ op: "generate", input: { originating: "capulet.example", receiving: "montague.example", streamId: "S1" } });
    s.handleKeyGenerated(key.handle, "k", NOW);
    expect(sends(s.drainActions())).toEqual(['<db:result from="capulet.example" to="montague.example">k</db:result>']);
  });

  it("no client certificate, or one for another domain, or EXTERNAL not offered: dialback at once", () => {
    for (const [names, features] of [[undefined, FEATURES_EXTERNAL], [["other.example"], FEATURES_EXTERNAL], [["capulet.example"], FEATURES_DIALBACK]] as const) {
      const s = initiator(names as string[] | undefined);
      s.handleElement(el(features), NOW);
      const out = s.drainActions();
      expect(sends(out).some((x) => x.includes("<auth"))).toBe(false);
      expect(out.some((a) => a.type === "key")).toBe(true);
    }
  });

  it("a SASL answer nobody asked for is a stream error", () => {
    const s = initiator(["capulet.example"]);
    s.handleElement(el(FEATURES_DIALBACK), NOW);
    s.drainActions();
    s.handleElement(el(`<success xmlns='${SASL}'/>`), NOW);
    expect(sends(s.drainActions())[0]).toContain("unsupported-stanza-type");
  });

  it("survives a snapshot while the <auth/> is outstanding", () => {
    const s = initiator(["capulet.example"]);
    s.handleElement(el(FEATURES_EXTERNAL), NOW);
    s.drainActions();
    const snap = JSON.parse(JSON.stringify(s.snapshot()));
    const r = S2SStream.restore(snap, { policy: new TestPolicy(["capulet.example"], ALLOW), transport: { secure: true, canStartTls: false } });
    r.drainActions();
    r.handleElement(el(`<success xmlns='${SASL}'/>`), NOW);
    expect(r.phase).toBe("awaiting-header");
  });

  it("end to end with the engine's receiving side: EXTERNAL offered for a valid certificate, taken, trusted both ways", () => {
    const recv = receivingStream(new TestPolicy(["montague.example"], ALLOW), { now: NOW, cert: { status: "valid", names: ["capulet.example"] } });
    const s = new S2SStream({
      role: "initiating", policy: new TestPolicy(["capulet.example"], ALLOW),
      transport: { secure: true, canStartTls: false, peerCertificate: { status: "valid", names: ["montague.example"] }, localNames: ["capulet.example"] },
      now: NOW, local: d("capulet.example"), remote: d("montague.example"),
    });
    s.sendStanza(msg("juliet@capulet.example", "romeo@montague.example", "e2e"), NOW);
    s.start(NOW);
    const delivered: string[] = [];
    // Pump both engines' send actions into each other until quiet.
    for (let i = 0; i < 20; i++) {
      let moved = false;
      for (const [from, to] of [[s, recv], [recv, s]] as const) {
        for (const a of from.drainActions()) {
          if (a.type === "deliver") delivered.push(a.stanza.attrs.id);
          if (a.type !== "send") continue;
          moved = true;
          if (a.data.kind === "header") to.handleOpen(a.data.attrs, NOW);
          else if (a.data.kind === "element") to.handleElement(el(a.data.element.toString()), NOW);
        }
      }
      if (!moved) break;
    }
    expect(delivered).toEqual(["e2e"]);
    expect(s.pairState("outbound", d("capulet.example"), d("montague.example"))).toBe("valid");
    expect(recv.pairState("inbound", d("montague.example"), d("capulet.example"))).toBe("valid");
  });
});
