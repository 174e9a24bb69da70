// Issue 12.3a: the hosted domain a connection can only be for (X-Edge-Connection `local`), which the
// edge takes for a pre-XMPP-1.0 stream header with no 'to' (jabberd2 2.7 without a certificate): the
// TLS SNI when it is one of GATEWAY_DOMAINS, else the only entry of GATEWAY_DOMAINS.

import { afterEach, describe, expect, it } from "vitest";
import { Peer, startFixture, type Fixture } from "./gateway-fixtures.js";

// jabberd2 2.7's header without a certificate: no to, from or version.
const BARE = "<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:server' xmlns:db='jabber:server:dialback'>";

let fx: Fixture | undefined;
afterEach(async () => {
  await fx?.stop();
  fx = undefined;
});

const connectionOf = (fx: Fixture, i = 0) => fx.edge.session(i).then((s) => ({ s, info: JSON.parse(String(s.req.headers["x-edge-connection"])) }));

describe("gateway: the domain a connection is for (X-Edge-Connection local)", () => {
  it("carries a pre-1.0 header without 'to' to the edge, naming the gateway's only domain", async () => {
    fx = await startFixture({ GATEWAY_REQUIRE_TLS: "false" });
    const peer = await Peer.tcp(fx.gateway.ports.starttls!);
    peer.write(BARE);
    const { s, info } = await connectionOf(fx);
    expect(info.local).toBe("edge.test");
    const open = await fx.edge.frame(s, /^<open /);
    expect(open).not.toContain(" to=");
    expect(open).not.toContain(" version=");
  });

  it("with several domains, names the one the TLS SNI asks for, and none for an SNI it does not serve", async () => {
    fx = await startFixture({ GATEWAY_DOMAINS: "edge.test,chat.test" });
    await Peer.directTls(fx.gateway.ports.directTls!, { servername: "chat.test" });
    expect((await connectionOf(fx, 0)).info.local).toBe("chat.test");
    await Peer.directTls(fx.gateway.ports.directTls!, { servername: "elsewhere.test" });
    expect((await connectionOf(fx, 1)).info).not.toHaveProperty("local");
  });

  it("with TLS required, refuses the pre-1.0 header with unsupported-version (TLS needs version 1.0)", async () => {
    fx = await startFixture();
    const peer = await Peer.tcp(fx.gateway.ports.starttls!);
    peer.write(BARE);
    await peer.wait(/<stream:error><unsupported-version xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
    expect(fx.edge.sessions).toHaveLength(0);
  });
});
