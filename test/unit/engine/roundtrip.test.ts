// Full dialback round trips between engines on in-memory links (XEP-0220 §2): originating ->
// receiving -> authoritative -> receiving -> originating, then stanzas flow.

import { describe, expect, it } from "vitest";
import { World, msg, d } from "./harness.js";

function twoServers(opts: { canStartTls?: boolean } = {}) {
  const world = new World();
  const capulet = world.server("capulet", { domains: ["capulet.example"], ...opts });
  const montague = world.server("montague", { domains: ["montague.example"], ...opts });
  return { world, capulet, montague };
}

describe("dialback round trip (three roles)", () => {
  it("verifies a pair through the authority and then delivers the queued stanza", async () => {
    const { world, capulet, montague } = twoServers();
    const { out, in: inbound } = world.connect(capulet, "capulet.example", "montague.example");
    out.sendStanza(msg("juliet@capulet.example/balcony", "romeo@montague.example", "s1"), world.clock.now);
    await world.run();

    expect(out.pairState("outbound", d("capulet.example"), d("montague.example"))).toBe("valid");
    expect(inbound!.pairState("inbound", d("montague.example"), d("capulet.example"))).toBe("valid");
    expect(montague.delivered.map((x) => x.stanza.attrs.id)).toEqual(["s1"]);
    expect(montague.delivered[0]!.from).toBe("capulet.example");
    // The receiving server dialled back over a separate stream to capulet's authority.
    const auth = montague.authorityStreams.get("capulet.example");
    expect(auth).toBeDefined();
    expect(auth).not.toBe(inbound);
    expect(montague.verifyResults.map((r) => r.outcome.type)).toEqual(["valid"]);
    expect(capulet.bounced).toEqual([]);
    // TLS was offered and used (preferTls), so the level is "encrypted".
    expect(montague.pairEvents.find((e) => e.state === "valid")?.level).toBe("encrypted");
  });

  it("works without TLS (verified level)", async () => {
    const { world, montague } = twoServers({ canStartTls: false });
    const capulet = world.servers[0]!;
    const { out } = world.connect(capulet, "capulet.example", "montague.example");
    out.sendStanza(msg("juliet@capulet.example", "romeo@montague.example"), world.clock.now);
    await world.run();
    expect(montague.delivered).toHaveLength(1);
    expect(montague.pairEvents.find((e) => e.state === "valid")?.level).toBe("verified");
  });

  it("bounces queued stanzas with internal-server-error when the authority says invalid", async () => {
    const world = new World();
    // The impostor claims capulet.example but does not know capulet's secret.
    const impostor = world.server("impostor", { domains: ["capulet.example"], secret: "not-capulets-secret-xxxxxxxx" });
    const montague = world.server("montague", { domains: ["montague.example"] });
    // The real capulet, which montague reaches as authority.
    world.server("capulet", { domains: ["capulet.example"] });
    world.servers.splice(0, 1); // make "hosting(capulet.example)" find the real one
    world.servers.push(impostor);
    const { out, in: inbound } = world.connect(impostor, "capulet.example", "montague.example");
    out.sendStanza(msg("juliet@capulet.example", "romeo@montague.example", "x1"), world.clock.now);
    await world.run();
    expect(inbound!.pairState("inbound", d("montague.example"), d("capulet.example"))).toBe("none");
    expect(montague.delivered).toEqual([]);
    expect(montague.audits.map((a) => a.event)).toContain("spoofing-attempt");
    // XMPP 1.0 peer: dialback error <forbidden/>, stream kept (seed 001).
    expect(inbound!.phase).toBe("open");
    expect(impostor.pairEvents.at(-1)).toMatchObject({ state: "error", condition: "forbidden" });
    expect(impostor.bounced).toEqual([expect.objectContaining({ condition: "remote-server-timeout" })]);
  });

  it("an authority that does not host the sender (host-unknown) becomes the remote-server-not-found dialback error (§2.4)", async () => {
    const world = new World();
    const capulet = world.server("capulet", { domains: ["capulet.example"] });
    const montague = world.server("montague", { domains: ["montague.example"] });
    const stranger = world.server("stranger", { domains: ["stranger.example"] });
    const { out } = world.connect(capulet, "capulet.example", "montague.example");
    // montague's DNS lookup for capulet.example lands on a server that does not host it.
    world.routes.set("capulet.example", stranger);
    out.sendStanza(msg("juliet@capulet.example", "romeo@montague.example", "n1"), world.clock.now);
    await world.run();
    // The stranger refuses the stream to capulet.example with host-unknown.
    expect(montague.verifyResults.map((r) => r.outcome)).toEqual([{ type: "error", condition: "remote-server-not-found" }]);
    expect(capulet.pairEvents.at(-1)).toMatchObject({ direction: "outbound", state: "error", condition: "remote-server-not-found" });
    expect(capulet.bounced.map((b) => [b.stanza.attrs.id, b.condition])).toEqual([["n1", "remote-server-timeout"]]);
    expect(montague.delivered).toEqual([]);
  });
});
