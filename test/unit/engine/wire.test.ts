// The engines again, but over real wire text: src/xml's writer on one side, its StreamReader on the
// other (as a TCP transport carries it), so namespace prefixes, declarations and restarts after
// STARTTLS are exercised the way a shell sees them.

import { describe, expect, it } from "vitest";
import { World, d, msg } from "./harness.js";

describe("engines over the XML wire", () => {
  it("full three-party dialback with STARTTLS and bidi, then stanzas both ways", async () => {
    const world = new World("xml");
    const a = world.server("a", { domains: ["a.example"] });
    const b = world.server("b", { domains: ["b.example"] });
    const { out, in: inbound } = world.connect(a, "a.example", "b.example");
    out.sendStanza(msg("x@a.example/r", "y@b.example", "w1"), world.clock.now);
    await world.run();
    expect(b.delivered.map((x) => x.stanza.attrs.id)).toEqual(["w1"]);
    expect(inbound!.secure).toBe(true);
    expect(inbound!.bidi).toBe(true);
    inbound!.sendStanza(msg("y@b.example", "x@a.example/r", "w2"), world.clock.now);
    await world.run();
    expect(a.delivered.map((x) => x.stanza.attrs.id)).toEqual(["w2"]);

    const wire = world.written(out);
    expect(wire).toContain("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    expect(wire).toContain("<bidi xmlns='urn:xmpp:bidi'/>");
    expect(wire).toMatch(/<db:result from='a\.example' to='b\.example'>[0-9a-f]{64}<\/db:result>/);
    // Two stream headers from the initiator: before and after TLS.
    expect(wire.match(/<stream:stream /g)).toHaveLength(2);
    const auth = b.authorityStreams.get("a.example")!;
    expect(world.written(auth)).toMatch(/<db:verify from='b\.example' to='a\.example' id='[^']+'>[0-9a-f]{64}<\/db:verify>/);
  });

  it("a pre-1.0 initiator and an XMPP 1.0 receiver agree over the wire", async () => {
    const world = new World("xml");
    const old = world.server("old", { domains: ["type1.lit"], legacy: true, canStartTls: false });
    const modern = world.server("modern", { domains: ["type2.lit"] });
    const { out } = world.connect(old, "type1.lit", "type2.lit");
    out.sendStanza(msg("citizen@type1.lit", "juliet@type2.lit", "old1"), world.clock.now);
    await world.run();
    expect(modern.delivered.map((x) => x.stanza.attrs.id)).toEqual(["old1"]);
    const header = /<stream:stream[^>]*>/.exec(world.written(out))![0];
    expect(header).not.toContain(" version=");
  });

  it("an invalid key ends with the stream error on the wire and bounces for the sender", async () => {
    const world = new World("xml");
    world.server("real", { domains: ["a.example"] });
    const spoofer = world.server("spoofer", { domains: ["a.example"], secret: "wrong-secret-wrong-secret" });
    world.server("b", { domains: ["b.example"], policy: { allowed: true, minLevel: "verified", bidi: false, onPairFailure: "close-stream" } });
    const { out, in: inbound } = world.connect(spoofer, "a.example", "b.example");
    out.sendStanza(msg("x@a.example", "y@b.example", "sp"), world.clock.now);
    await world.run();
    expect(world.written(inbound!)).toContain("<db:result from='b.example' to='a.example' type='invalid'/></stream:stream>");
    expect(spoofer.bounced.map((x) => [x.stanza.attrs.id, x.condition])).toEqual([["sp", "internal-server-error"]]);
    expect(out.pairState("outbound", d("a.example"), d("b.example"))).toBe("failed");
  });
});
