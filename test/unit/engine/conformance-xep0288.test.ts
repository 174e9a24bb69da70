// XEP-0288 "Bidirectional Streams with Server Dialback" example replayed line by line against the
// engine as S (montague.lit) and as C (capulet.lit), plus a bidi round trip between two engines.

import { describe, expect, it } from "vitest";
import { S2SStream, type Action } from "../../../src/engine/index.js";
import { asStreamId } from "../../../src/types.js";
import { TestPolicy, World, d, el, msg, show } from "./harness.js";

const NOW = 1;
const C_HEADER = {
  "xmlns:stream": "http://etherx.jabber.org/streams",
  xmlns: "jabber:server",
  "xmlns:db": "jabber:server:dialback",
  to: "montague.lit",
  from: "capulet.lit",
  "xml:lang": "en",
  version: "1.0",
};
const sends = (as: Action[]) => as.flatMap((a) => (a.type === "send" ? [a.data.kind === "element" ? a.data.element.toString() : a.data.kind] : []));

describe("XEP-0288 §3 example 2, engine as the receiving server S", () => {
  it("negotiates TLS and bidi, verifies capulet.lit, then both sides send and S multiplexes a MUC domain", () => {
    const ids = ["65b30434afd7646699d077f7affcb2c120c48e18", "b5cd769b1dc292c6f6557fe76cabc4d112333f9a"];
    const s = new S2SStream({
      role: "receiving",
      policy: new TestPolicy(["montague.lit", "conference.montague.lit"]),
      transport: { secure: false, canStartTls: true },
      now: NOW,
      newStreamId: () => asStreamId(ids.shift()!),
    });
    s.handleOpen(C_HEADER, NOW);
    let out = s.drainActions();
    expect(out[0]).toMatchObject({ data: { kind: "header", attrs: { id: "65b30434afd7646699d077f7affcb2c120c48e18", from: "montague.lit", to: "capulet.lit", version: "1.0" } } });
    expect(sends(out)[1]).toBe(
      '<stream:features><starttls xmlns="urn:ietf:params:xml:ns:xmpp-tls"/><dialback xmlns="urn:xmpp:features:dialback"><errors/></dialback><bidi xmlns="urn:xmpp:features:bidi"/></stream:features>',
    );
    s.handleElement(el(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`), NOW);
    expect(show(s.drainActions())).toEqual(['send <proceed xmlns="urn:ietf:params:xml:ns:xmpp-tls"/>', "start-tls"]);
    s.handleTlsEstablished({ peerCertificate: { status: "untrusted", names: ["capulet.lit"] } }, NOW);
    s.handleOpen(C_HEADER, NOW);
    out = s.drainActions();
    expect(out[0]).toMatchObject({ data: { kind: "header", attrs: { id: "b5cd769b1dc292c6f6557fe76cabc4d112333f9a" } } });
    // After TLS: bidi again (XEP-0288 §2.1 "both before and after TLS"), no starttls.
    expect(sends(out)[1]).toBe('<stream:features><dialback xmlns="urn:xmpp:features:dialback"><errors/></dialback><bidi xmlns="urn:xmpp:features:bidi"/></stream:features>');

    s.handleElement(el(`<bidi xmlns='urn:xmpp:bidi'/>`), NOW);
    s.handleElement(el(`<db:result from='capulet.lit' to='montague.lit'>e3f5cf21f12749ef2cf59269bc0118f35bc46b26</db:result>`), NOW);
    const v = s.drainActions().find((a) => a.type === "verify") as Extract<Action, { type: "verify" }>;
    expect(v).toMatchObject({ from: "montague.lit", to: "capulet.lit", id: "b5cd769b1dc292c6f6557fe76cabc4d112333f9a" });
    s.handleVerifyResult(v.handle, { type: "valid" }, NOW);
    expect(sends(s.drainActions())).toEqual(['<db:result from="montague.lit" to="capulet.lit" type="valid"/>']);

    // C: <iq from='juliet@capulet.lit/balcony' to='montague.lit' .../>
    s.handleElement(el(`<iq from='juliet@capulet.lit/balcony' to='montague.lit' type='get' id='8dfc70af'><query xmlns='urn:xmpp:ping'/></iq>`), NOW);
    expect(s.drainActions()[0]).toMatchObject({ type: "deliver", from: "capulet.lit", to: "montague.lit" });
    // S: the reply goes back on the same stream (inverse of the verified pair).
    s.sendStanza(el(`<iq from='montague.lit' to='juliet@capulet.lit/balcony' type='result' id='8dfc70af'><query xmlns='urn:xmpp:ping'/></iq>`), NOW);
    expect(sends(s.drainActions())).toEqual([
      '<iq from="montague.lit" to="juliet@capulet.lit/balcony" type="result" id="8dfc70af"><query xmlns="urn:xmpp:ping"/></iq>',
    ]);
    // S: <db:result from='conference.montague.lit' to='capulet.lit'>...
    s.authenticate(d("conference.montague.lit"), d("capulet.lit"), NOW);
    const k = s.drainActions().find((a) => a.type === "key") as Extract<Action, { type: "key" }>;
    expect(k.input).toEqual({ receiving: "capulet.lit", originating: "conference.montague.lit", streamId: "b5cd769b1dc292c6f6557fe76cabc4d112333f9a" });
    s.handleKeyGenerated(k.handle, "1bac3ef56fed987cfe098c9785c654a5476ed765", NOW);
    expect(sends(s.drainActions())).toEqual(['<db:result from="conference.montague.lit" to="capulet.lit">1bac3ef56fed987cfe098c9785c654a5476ed765</db:result>']);
    // C: <db:result from='capulet.lit' to='conference.montague.lit' type='valid'/>
    s.handleElement(el(`<db:result from='capulet.lit' to='conference.montague.lit' type='valid'/>`), NOW);
    expect(show(s.drainActions())).toEqual(["pair outbound conference.montague.lit capulet.lit valid"]);
    // "Now S can send as conference.m.l as well as C sending to that domain."
    s.sendStanza(msg("room@conference.montague.lit", "juliet@capulet.lit", "muc"), NOW);
    s.handleElement(msg("juliet@capulet.lit", "room@conference.montague.lit", "tomuc"), NOW);
    expect(show(s.drainActions()).map((x) => x.split(" ")[0])).toEqual(["send", "deliver"]);
  });
});

describe("XEP-0288 engine as the initiating server C", () => {
  it("requests bidi after TLS, accepts stanzas back for the inverse pair, and answers S's dialback request", () => {
    const c = new S2SStream({
      role: "initiating",
      policy: new TestPolicy(["capulet.lit"]),
      transport: { secure: false, canStartTls: true },
      now: NOW,
      local: d("capulet.lit"),
      remote: d("montague.lit"),
    });
    c.start(NOW);
    const sHeader = (id: string) => ({ xmlns: "jabber:server", "xmlns:db": "jabber:server:dialback", "xmlns:stream": "http://etherx.jabber.org/streams", id, from: "montague.lit", to: "capulet.lit", version: "1.0" });
    c.handleOpen(sHeader("65b3"), NOW);
    c.handleElement(el(`<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><bidi xmlns='urn:xmpp:features:bidi'/></stream:features>`), NOW);
    expect(sends(c.drainActions())).toEqual(["header", '<starttls xmlns="urn:ietf:params:xml:ns:xmpp-tls"/>']);
    c.handleElement(el(`<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`), NOW);
    expect(show(c.drainActions())).toEqual(["start-tls"]);
    c.handleTlsEstablished({ peerCertificate: { status: "untrusted", names: [] } }, NOW);
    c.handleOpen(sHeader("b5cd"), NOW);
    c.handleElement(el(`<stream:features><bidi xmlns='urn:xmpp:features:bidi'/></stream:features>`), NOW);
    c.sendStanza(el(`<iq from='juliet@capulet.lit/balcony' to='montague.lit' type='get' id='8dfc70af'><query xmlns='urn:xmpp:ping'/></iq>`), NOW);
    const out = c.drainActions();
    expect(sends(out)).toEqual(["header", '<bidi xmlns="urn:xmpp:bidi"/>']);
    const k = out.find((a) => a.type === "key") as Extract<Action, { type: "key" }>;
    c.handleKeyGenerated(k.handle, "e3f5cf21f12749ef2cf59269bc0118f35bc46b26", NOW);
    expect(sends(c.drainActions())).toEqual(['<db:result from="capulet.lit" to="montague.lit">e3f5cf21f12749ef2cf59269bc0118f35bc46b26</db:result>']);
    c.handleElement(el(`<db:result from='montague.lit' to='capulet.lit' type='valid'/>`), NOW);
    expect(sends(c.drainActions())).toHaveLength(1); // the queued iq
    c.handleElement(el(`<iq from='montague.lit' to='juliet@capulet.lit/balcony' type='result' id='8dfc70af'/>`), NOW);
    expect(c.drainActions()[0]).toMatchObject({ type: "deliver", from: "montague.lit", to: "capulet.lit" });
    // S starts dialback for conference.montague.lit on C's stream: C acts as receiving server.
    c.handleElement(el(`<db:result from='conference.montague.lit' to='capulet.lit'>1bac3ef56fed987cfe098c9785c654a5476ed765</db:result>`), NOW);
    const v = c.drainActions().find((a) => a.type === "verify") as Extract<Action, { type: "verify" }>;
    expect(v).toMatchObject({ from: "capulet.lit", to: "conference.montague.lit", id: "b5cd" });
    c.handleVerifyResult(v.handle, { type: "valid" }, NOW);
    expect(sends(c.drainActions())).toEqual(['<db:result from="capulet.lit" to="conference.montague.lit" type="valid"/>']);
  });
});

describe("bidi between two engines", () => {
  it("the receiving server authenticates its own domain back over the incoming stream", async () => {
    const world = new World();
    const a = world.server("a", { domains: ["a.example"] });
    const b = world.server("b", { domains: ["b.example", "muc.b.example"] });
    const { out, in: inbound } = world.connect(a, "a.example", "b.example");
    out.sendStanza(msg("x@a.example", "y@b.example", "ab"), world.clock.now);
    await world.run();
    // b answers over the same stream, and authenticates muc.b.example there too.
    inbound!.sendStanza(msg("y@b.example", "x@a.example", "ba"), world.clock.now);
    inbound!.sendStanza(msg("room@muc.b.example", "x@a.example", "muc"), world.clock.now);
    await world.run();
    expect(a.delivered.map((x) => x.stanza.attrs.id)).toEqual(["ba", "muc"]);
    expect(new Set(a.delivered.map((x) => x.stream))).toEqual(new Set([out]));
    // a verified muc.b.example with b's authority over a different stream than `out`.
    expect(a.authorityStreams.get("muc.b.example")).toBeDefined();
    expect(a.authorityStreams.get("muc.b.example")).not.toBe(out);
  });

  it("without bidi the receiving side cannot send on the incoming stream", async () => {
    const world = new World();
    const a = world.server("a", { domains: ["a.example"], policy: { allowed: true, minLevel: "verified", bidi: false, onPairFailure: "keep-stream" } });
    world.server("b", { domains: ["b.example"] });
    const { out, in: inbound } = world.connect(a, "a.example", "b.example");
    out.sendStanza(msg("x@a.example", "y@b.example"), world.clock.now);
    await world.run();
    expect(out.bidi).toBe(false);
    expect(() => inbound!.sendStanza(msg("y@b.example", "x@a.example"), world.clock.now)).toThrow(/bidi/);
  });
});
