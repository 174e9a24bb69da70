// Issue 10 defect 1: the gateway counts and limits connections at the raw TCP accept on both
// listeners (before any TLS), bounds the TLS handshake by GATEWAY_HANDSHAKE_TIMEOUT_MS, has a global
// cap GATEWAY_MAX_CONNECTIONS, and goes on serving other addresses when a cap is hit.

import { afterEach, describe, expect, it } from "vitest";
import { addressKey } from "../../gateway/admission.js";
import { defaultMaxConnections } from "../../gateway/config.js";
import { FRAMING, Peer, header, startFixture, until, type Fixture } from "./gateway-fixtures.js";

let fx: Fixture | undefined;
const peers: Peer[] = [];
afterEach(async () => {
  for (const p of peers.splice(0)) p.socket.destroy();
  await fx?.stop();
  fx = undefined;
});

async function rawTcp(port: number, from?: string): Promise<Peer> {
  const p = await Peer.tcp(port, from ? { from } : {});
  peers.push(p);
  return p;
}

/** A direct TLS peer from `from` whose stream reaches the edge as <open/>. */
async function servedDirectTls(f: Fixture, from: string): Promise<void> {
  const peer = await Peer.directTls(f.gateway.ports.directTls!, { from });
  peers.push(peer);
  peer.write(header());
  const before = f.edge.sessions.length;
  const s = await f.edge.session(before);
  await f.edge.frame(s, /^<open /);
  s.ws.send(`<open xmlns='${FRAMING}' from='edge.test' to='peer.test' id='x1' version='1.0'/>`);
  await peer.wait(/<stream:stream [^>]*id='x1'/);
}

describe("gateway admission at the raw TCP accept (issue 10 defect 1)", () => {
  it("direct TLS: connections that never start TLS count against GATEWAY_MAX_CONNECTIONS_PER_IP; the next one from that address is closed at once, another address is served", async () => {
    fx = await startFixture({ GATEWAY_MAX_CONNECTIONS_PER_IP: "3" });
    const port = fx.gateway.ports.directTls!;
    for (let i = 0; i < 3; i++) await rawTcp(port, "127.0.0.1");
    await until(() => fx!.gateway.connections() === 3, "three raw connections counted");
    const extra = await rawTcp(port, "127.0.0.1");
    await until(() => extra.closed, "the fourth connection from 127.0.0.1 to be closed");
    expect(extra.text).toBe("");
    expect(peers.slice(0, 3).some((p) => p.closed)).toBe(false);
    expect(fx.gateway.refused().perIp).toBe(1);
    // Another address is served while 127.0.0.1 is at its cap.
    await servedDirectTls(fx, "127.0.0.2");
  });

  it("STARTTLS and direct TLS share one count per address", async () => {
    fx = await startFixture({ GATEWAY_MAX_CONNECTIONS_PER_IP: "2" });
    await rawTcp(fx.gateway.ports.directTls!, "127.0.0.3");
    await rawTcp(fx.gateway.ports.starttls!, "127.0.0.3");
    await until(() => fx!.gateway.connections() === 2, "two connections counted");
    const extra = await rawTcp(fx.gateway.ports.starttls!, "127.0.0.3");
    await extra.wait(/<stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/><\/stream:error><\/stream:stream>/);
    await until(() => extra.closed, "close");
  });

  it("GATEWAY_MAX_CONNECTIONS caps all addresses together: resource-constraint on 5269, closed on 5270; a freed slot serves again", async () => {
    fx = await startFixture({ GATEWAY_MAX_CONNECTIONS: "2" });
    const a = await rawTcp(fx.gateway.ports.directTls!, "127.0.0.4");
    await rawTcp(fx.gateway.ports.directTls!, "127.0.0.5");
    await until(() => fx!.gateway.connections() === 2, "two connections counted");
    const c = await rawTcp(fx.gateway.ports.starttls!, "127.0.0.6");
    await c.wait(/<stream:error><resource-constraint xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/><\/stream:error><\/stream:stream>/);
    const d = await rawTcp(fx.gateway.ports.directTls!, "127.0.0.6");
    await until(() => d.closed, "the direct TLS connection over the cap to be closed");
    expect(fx.gateway.refused().global).toBe(2);
    a.socket.destroy();
    await until(() => fx!.gateway.connections() === 1, "a slot to free");
    await servedDirectTls(fx, "127.0.0.6");
  });

  it("direct TLS: a handshake that never completes is cut after GATEWAY_HANDSHAKE_TIMEOUT_MS, and its slot is freed", async () => {
    fx = await startFixture({ GATEWAY_HANDSHAKE_TIMEOUT_MS: "200" });
    const stalled = await rawTcp(fx.gateway.ports.directTls!);
    // The start of a TLS record (a ClientHello header), then nothing.
    stalled.socket.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
    await until(() => stalled.closed, "the stalled handshake to be cut");
    await until(() => fx!.gateway.connections() === 0, "its slot to be freed");
  });

  it("STARTTLS: a peer that never starts TLS after <proceed/> is cut after GATEWAY_HANDSHAKE_TIMEOUT_MS", async () => {
    fx = await startFixture({ GATEWAY_HANDSHAKE_TIMEOUT_MS: "200" });
    const peer = await rawTcp(fx.gateway.ports.starttls!);
    peer.write(header());
    await peer.wait(/<\/stream:features>/);
    peer.write("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    await peer.wait(/<proceed /);
    await until(() => peer.closed, "the stalled STARTTLS handshake to be cut");
    await until(() => fx!.gateway.connections() === 0, "its slot to be freed");
  });

  it("counts IPv6 per /64 and IPv4-mapped IPv6 as IPv4", () => {
    expect(addressKey("2001:db8:1:2:3:4:5:6")).toBe("2001:db8:1:2::/64");
    expect(addressKey("2001:db8:1:2::9")).toBe("2001:db8:1:2::/64");
    expect(addressKey("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(addressKey("::1")).toBe("0:0:0:0::/64");
    expect(addressKey("::ffff:192.0.2.7")).toBe("192.0.2.7");
    expect(addressKey("192.0.2.7")).toBe("192.0.2.7");
  });

  it("GATEWAY_MAX_CONNECTIONS defaults to what the file descriptor limit and memory allow", () => {
    const n = defaultMaxConnections();
    expect(n).toBeGreaterThanOrEqual(64);
    // Two descriptors per connection must fit under this process's limit.
    expect(2 * n).toBeLessThan(20_000 + 1_048_576);
  });
});
