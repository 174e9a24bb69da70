// Attacks that hit real servers, one test each (issue 3): unsolicited dialback (CVE-2012-3525,
// CVE-2012-4669), field boundaries (CVE-2016-0756, Openfire id-only keys), timing (CVE-2021-32921),
// the authorization race (OF-2626) and bidi namespace confusion (ejabberd #4300/#4375).

import { describe, expect, it } from "vitest";
import { constantTimeEqual, DialbackKeys } from "../../../src/dialback/keys.js";
import { drive, EngineUsageError, S2SStream, type Action } from "../../../src/engine/index.js";
import { asStreamId } from "../../../src/types.js";
import { TestPolicy, World, auditEvents, d, el, msg, openInitiating, openReceiving, s2sHeader, sentElements, show } from "./harness.js";

const NOW = 5000;
const HOSTED = { now: NOW, local: "montague.example", remote: "capulet.example" };

/** A receiving stream for montague.example, open, with the peer claiming capulet.example. */
function openReceivingR1(opts: { bidiRequest?: boolean } = {}) {
  const s = openReceiving({ ...HOSTED, id: "R1" });
  if (opts.bidiRequest) s.handleElement(el(`<bidi xmlns='urn:xmpp:bidi'/>`), NOW);
  s.drainActions();
  return s;
}

/** An initiating stream from montague.example to capulet.example (e.g. towards an authority). */
const openInitiatingA1 = (opts: { bidi?: boolean } = {}) =>
  openInitiating({ ...HOSTED, id: "A1", features: opts.bidi ? "<bidi xmlns='urn:xmpp:features:bidi'/>" : "" });

describe("unsolicited dialback (XEP-0220 §4.1)", () => {
  it("ignores a typed db:result on an incoming stream and still refuses the spoofed sender's stanzas (CVE-2012-3525)", () => {
    const s = openReceivingR1();
    s.handleElement(el(`<db:result from='capulet.example' to='montague.example' type='valid'/>`), NOW);
    const a = s.drainActions();
    expect(auditEvents(a)).toEqual(["unsolicited-dialback"]);
    expect(s.pairState("inbound", d("montague.example"), d("capulet.example"))).toBe("none");
    s.handleElement(msg("mallory@capulet.example", "romeo@montague.example"), NOW);
    expect(show(s.drainActions()).slice(-3)).toEqual([
      'send <stream:error><invalid-from xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error>',
      "send close",
      "closed us invalid-from",
    ]);
  });

  it("ignores a typed db:verify that answers no request (CVE-2012-4669)", () => {
    const s = openReceivingR1();
    s.handleElement(el(`<db:verify from='capulet.example' to='montague.example' id='R1' type='valid'/>`), NOW);
    const a = s.drainActions();
    expect(auditEvents(a)).toEqual(["unsolicited-dialback"]);
    expect(a.some((x) => x.type === "verify-result")).toBe(false);
    expect(s.pairState("inbound", d("montague.example"), d("capulet.example"))).toBe("none");
  });

  it("ignores a db:result type='valid' for a pair never requested on an outgoing stream", () => {
    const s = openInitiatingA1();
    s.authenticate(d("montague.example"), d("capulet.example"), NOW);
    s.drainActions();
    s.handleKeyGenerated(1, "k", NOW);
    s.drainActions();
    // Valid for a different target than the one we asked for.
    s.handleElement(el(`<db:result from='chat.capulet.example' to='montague.example' type='valid'/>`), NOW);
    expect(auditEvents(s.drainActions())).toEqual(["unsolicited-dialback"]);
    expect(s.pairState("outbound", d("montague.example"), d("chat.capulet.example"))).toBe("none");
    expect(s.pairState("outbound", d("montague.example"), d("capulet.example"))).toBe("pending");
  });

  it("refuses a db:verify answer with the wrong id, and keeps the request outstanding", () => {
    const s = openInitiatingA1();
    const h = s.requestVerify({ from: d("montague.example"), to: d("capulet.example"), id: "R9", key: "k" }, NOW);
    s.drainActions();
    s.handleElement(el(`<db:verify from='capulet.example' to='montague.example' id='R8' type='valid'/>`), NOW);
    expect(auditEvents(s.drainActions())).toEqual(["unsolicited-dialback"]);
    s.handleElement(el(`<db:verify from='capulet.example' to='montague.example' id='R9' type='valid'/>`), NOW);
    expect(show(s.drainActions())).toEqual([`verify-result ${h} valid`]);
  });

  it("refuses a db:verify answer with from/to swapped", () => {
    const s = openInitiatingA1();
    s.requestVerify({ from: d("montague.example"), to: d("capulet.example"), id: "R9", key: "k" }, NOW);
    s.drainActions();
    // A correct answer comes from capulet to montague; this one mirrors the request instead.
    s.handleElement(el(`<db:verify from='montague.example' to='capulet.example' id='R9' type='valid'/>`), NOW);
    expect(auditEvents(s.drainActions())).toEqual(["unsolicited-dialback"]);
  });

  it("refuses a db:result answer with from/to swapped", () => {
    const s = openInitiatingA1();
    s.authenticate(d("montague.example"), d("capulet.example"), NOW);
    const gen = s.drainActions().find((a) => a.type === "key") as { handle: number };
    s.handleKeyGenerated(gen.handle, "k", NOW);
    s.drainActions();
    s.handleElement(el(`<db:result from='montague.example' to='capulet.example' type='valid'/>`), NOW);
    expect(auditEvents(s.drainActions())).toEqual(["unsolicited-dialback"]);
    expect(s.pairState("outbound", d("montague.example"), d("capulet.example"))).toBe("pending");
  });

  it("refuses an answer that arrives on a different stream than its request", () => {
    const a = openInitiatingA1();
    const b = openInitiatingA1();
    a.requestVerify({ from: d("montague.example"), to: d("capulet.example"), id: "R9", key: "k" }, NOW);
    a.drainActions();
    b.handleElement(el(`<db:verify from='capulet.example' to='montague.example' id='R9' type='valid'/>`), NOW);
    expect(auditEvents(b.drainActions())).toEqual(["unsolicited-dialback"]);
    // The real request on stream a is still waiting.
    expect(a.pollTimeout()).toBeDefined();
  });

  describe("over bidi (XEP-0288 §4)", () => {
    it("a typed db:result on a bidi incoming stream for a pair we never requested grants nothing", () => {
      const s = openReceivingR1({ bidiRequest: true });
      expect(s.bidi).toBe(true);
      s.handleElement(el(`<db:result from='capulet.example' to='montague.example' type='valid'/>`), NOW);
      expect(auditEvents(s.drainActions())).toEqual(["unsolicited-dialback"]);
      // We must not route to capulet.example on this stream without proof: sending starts dialback.
      s.sendStanza(msg("romeo@montague.example", "juliet@capulet.example", "b1"), NOW);
      const out = s.drainActions();
      expect(sentElements(out)).toEqual([]);
      expect(show(out)).toContain("pair outbound montague.example capulet.example pending");
      // And the peer cannot send as capulet.example either.
      s.handleElement(msg("mallory@capulet.example", "romeo@montague.example"), NOW);
      expect(show(s.drainActions())).toContain("closed us invalid-from");
    });

    it("a typed db:verify on a bidi incoming stream answers nothing", () => {
      const s = openReceivingR1({ bidiRequest: true });
      s.handleElement(el(`<db:verify from='capulet.example' to='montague.example' id='R1' type='valid'/>`), NOW);
      expect(auditEvents(s.drainActions())).toEqual(["unsolicited-dialback"]);
    });

    it("a db:result response for a pair requested in the other direction is refused on a bidi outgoing stream", () => {
      const s = openInitiatingA1({ bidi: true });
      expect(s.bidi).toBe(true);
      // The peer asks to authenticate capulet -> montague (a request, fine: we are receiving for it)...
      s.handleElement(el(`<db:result from='capulet.example' to='montague.example'>key</db:result>`), NOW);
      const v = s.drainActions().find((a) => a.type === "verify") as { handle: number };
      expect(v).toBeDefined();
      // ...then claims to answer a request of ours for the inverse pair, which we never sent.
      s.handleElement(el(`<db:result from='capulet.example' to='montague.example' type='valid'/>`), NOW);
      expect(auditEvents(s.drainActions())).toEqual(["unsolicited-dialback"]);
      expect(s.pairState("inbound", d("montague.example"), d("capulet.example"))).toBe("pending");
    });

    it("wrong id and swapped verify answers are refused on a bidi stream", () => {
      const s = openReceivingR1({ bidiRequest: true });
      s.requestVerify({ from: d("montague.example"), to: d("capulet.example"), id: "OTHER", key: "k" }, NOW);
      s.drainActions();
      s.handleElement(el(`<db:verify from='capulet.example' to='montague.example' id='WRONG' type='valid'/>`), NOW);
      s.handleElement(el(`<db:verify from='montague.example' to='capulet.example' id='OTHER' type='valid'/>`), NOW);
      expect(auditEvents(s.drainActions())).toEqual(["unsolicited-dialback", "unsolicited-dialback"]);
    });
  });

  it("never verifies a key on the stream it was received on (XEP-0288 §2.2)", () => {
    const s = openReceivingR1({ bidiRequest: true });
    s.handleElement(el(`<db:result from='capulet.example' to='montague.example'>key</db:result>`), NOW);
    const v = s.drainActions().find((a) => a.type === "verify") as { id: string; key: string };
    expect(() =>
      s.requestVerify({ from: d("montague.example"), to: d("capulet.example"), id: v.id, key: v.key }, NOW),
    ).toThrow(EngineUsageError);
  });
});

describe("field boundaries (CVE-2016-0756, Openfire id-only keys)", () => {
  const keys = new DialbackKeys("boundary-secret-0123456789");

  it("boundary-shifted inputs give different keys", async () => {
    const a = await keys.generate({ receiving: d("ab.example"), originating: d("c.example"), streamId: asStreamId("x1") });
    const b = await keys.generate({ receiving: d("ab.exampl"), originating: d("ec.example"), streamId: asStreamId("x1") });
    const c = await keys.generate({ receiving: d("ab.example"), originating: d("c.examplex"), streamId: asStreamId("1") });
    expect(new Set([a, b, c]).size).toBe(3);
  });

  it("a key minted for receiving domain B never verifies for C with the same stream id (authoritative role)", async () => {
    const id = asStreamId("same-id");
    const keyForB = await keys.generate({ receiving: d("b.example"), originating: d("a.example"), streamId: id });
    const s = new S2SStream({
      role: "receiving",
      policy: new TestPolicy(["a.example"]),
      transport: { secure: true, canStartTls: false },
      now: NOW,
    });
    s.handleOpen(s2sHeader("c.example", "a.example"), NOW);
    s.drainActions();
    s.handleElement(el(`<db:verify from='c.example' to='a.example' id='same-id'>${keyForB}</db:verify>`), NOW);
    s.handleElement(el(`<db:verify from='b.example' to='a.example' id='same-id'>${keyForB}</db:verify>`), NOW);
    expect(sentElements(await drive(s, keys, () => NOW))).toEqual([
      '<db:verify from="a.example" to="c.example" id="same-id" type="invalid"/>',
      '<db:verify from="a.example" to="b.example" id="same-id" type="valid"/>',
    ]);
  });
});

describe("timing (CVE-2021-32921)", () => {
  it("the engine never compares keys itself: every check goes to DialbackKeys.verify", async () => {
    const s = openReceivingR1();
    s.handleElement(el(`<db:verify from='capulet.example' to='montague.example' id='X'>abc</db:verify>`), NOW);
    const seen: string[] = [];
    const fake = {
      generate: async () => "unused",
      verify: async (_i: unknown, key: string) => {
        seen.push(key);
        return false;
      },
    } as unknown as DialbackKeys;
    await drive(s, fake, () => NOW);
    expect(seen).toEqual(["abc"]);
  });

  it("constantTimeEqual looks at every byte (equal, differing first/last byte, prefix)", () => {
    const k = "225cc5aa6a071133249d25fef42ae516fc7a86c523aa1c6980a7f73e784c972d";
    expect(constantTimeEqual(k, k)).toBe(true);
    expect(constantTimeEqual(k, `x${k.slice(1)}`)).toBe(false);
    expect(constantTimeEqual(k, `${k.slice(0, -1)}x`)).toBe(false);
    expect(constantTimeEqual(k, k.slice(0, 10))).toBe(false);
  });
});

describe("authorization race (Openfire OF-2626)", () => {
  it("records the pair valid before type='valid' is sent: a stanza right behind it is accepted", () => {
    const s = openReceivingR1();
    s.handleElement(el(`<db:result from='capulet.example' to='montague.example'>key</db:result>`), NOW);
    const v = s.drainActions().find((a) => a.type === "verify") as { handle: number };
    s.handleVerifyResult(v.handle, { type: "valid" }, NOW);
    // The peer's stanza arrives before the shell has even flushed our type='valid'.
    s.handleElement(msg("juliet@capulet.example", "romeo@montague.example", "race"), NOW);
    expect(show(s.drainActions())).toEqual([
      'send <db:result from="montague.example" to="capulet.example" type="valid"/>',
      "pair inbound montague.example capulet.example valid",
      'deliver <message xmlns="jabber:server" from="juliet@capulet.example" to="romeo@montague.example" id="race" type="chat"><body>hi</body></message>',
    ]);
  });
});

describe("strict bidi namespaces (ejabberd #4300/#4375)", () => {
  it("a bidi request in the feature namespace is not a bidi request", () => {
    const s = openReceivingR1();
    s.handleElement(el(`<bidi xmlns='urn:xmpp:features:bidi'/>`), NOW);
    expect(s.bidi).toBe(false);
    expect(show(s.drainActions())).toEqual([
      `send <stream:error><unsupported-stanza-type xmlns="urn:ietf:params:xml:ns:xmpp-streams"/><text xmlns="urn:ietf:params:xml:ns:xmpp-streams" xml:lang="en">&lt;bidi xmlns='urn:xmpp:features:bidi'/&gt;</text></stream:error>`,
      "send close",
      "closed us unsupported-stanza-type",
    ]);
  });

  it("a feature in the request namespace is not an offer: the initiator does not ask for bidi", () => {
    const s = new S2SStream({
      role: "initiating",
      policy: new TestPolicy(["montague.example"]),
      transport: { secure: true, canStartTls: false },
      now: NOW,
      local: d("montague.example"),
      remote: d("capulet.example"),
    });
    s.start(NOW);
    s.handleOpen({ ...s2sHeader("capulet.example", "montague.example"), id: "A1" }, NOW);
    s.handleElement(el(`<stream:features><bidi xmlns='urn:xmpp:bidi'/></stream:features>`), NOW);
    expect(s.bidi).toBe(false);
    expect(sentElements(s.drainActions())).toEqual([]);
  });

  it("the initiator requests bidi with urn:xmpp:bidi when offered urn:xmpp:features:bidi", async () => {
    const world = new World();
    const a = world.server("a", { domains: ["a.example"] });
    world.server("b", { domains: ["b.example"] });
    const { out, in: inbound } = world.connect(a, "a.example", "b.example");
    await world.run();
    expect(out.bidi).toBe(true);
    expect(inbound!.bidi).toBe(true);
    const sent = a.log.flatMap((l) => (l.action.type === "send" && l.action.data.kind === "element" ? [l.action.data.element.toString()] : []));
    expect(sent).toContain('<bidi xmlns="urn:xmpp:bidi"/>');
  });
});
