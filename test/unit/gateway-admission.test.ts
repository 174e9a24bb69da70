// Issue 10 defect 1: the gateway counts and limits connections at the raw TCP accept on both
// listeners (before any TLS), bounds the TLS handshake by GATEWAY_HANDSHAKE_TIMEOUT_MS, has a global
// cap GATEWAY_MAX_CONNECTIONS, and goes on serving other addresses when a cap is hit.

import { afterEach, describe, expect, it } from "vitest";
import { addressKey } from "../../gateway/admission.js";
import { defaultMaxConnections } from "../../gateway/config.js";
import { authenticatedFrame } from "../../src/gateway-contract.js";
import { FRAMING, Peer, header, startFixture, until, type EdgeSession, type Fixture } from "./gateway-fixtures.js";

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

/** A STARTTLS peer from `from` that sent its header and got the STARTTLS features (it is being served). */
async function servedStarttls(f: Fixture, from: string): Promise<Peer> {
  const p = await rawTcp(f.gateway.ports.starttls!, from);
  p.write(header());
  await p.wait(/<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required\/><\/starttls>/);
  return p;
}

/** A direct TLS peer from `from` whose stream is open at the fake edge. */
async function atEdge(f: Fixture, from: string): Promise<{ peer: Peer; s: EdgeSession }> {
  const before = f.edge.sessions.length;
  const peer = await Peer.directTls(f.gateway.ports.directTls!, { from });
  peers.push(peer);
  peer.write(header());
  const s = await f.edge.session(before);
  await f.edge.frame(s, /^<open /);
  s.ws.send(`<open xmlns='${FRAMING}' from='edge.test' to='peer.test' id='a${before}' version='1.0'/>`);
  await peer.wait(new RegExp(`<stream:stream [^>]*id='a${before}'`));
  return { peer, s };
}

describe("unauthenticated and authenticated connections count apart (issue 11 item 3)", () => {
  it("with the default limits, 200 connections from one address (a server with 200 vhosts) are all served", async () => {
    fx = await startFixture();
    const all = await Promise.all(Array.from({ length: 200 }, () => servedStarttls(fx!, "127.0.0.8")));
    expect(all.length).toBe(200);
    expect(fx.gateway.countFor("127.0.0.8")).toEqual({ connections: 200, unauthenticated: 200, waiting: 0 });
    expect(fx.gateway.refused()).toMatchObject({ global: 0, perIp: 0, waiting: 0 });
  }, 60_000);

  it("over GATEWAY_MAX_UNAUTHENTICATED_PER_IP a connection waits unread, and is served once the edge says another is authenticated", async () => {
    fx = await startFixture({ GATEWAY_MAX_UNAUTHENTICATED_PER_IP: "2" });
    const { peer: a, s } = await atEdge(fx, "127.0.0.9");
    await servedStarttls(fx, "127.0.0.9");
    const c = await rawTcp(fx.gateway.ports.starttls!, "127.0.0.9");
    c.write(header());
    await until(() => fx!.gateway.countFor("127.0.0.9").waiting === 1, "the third connection to wait");
    // Another address is not affected.
    await servedStarttls(fx, "127.0.0.10");
    // The edge's control frame: a's stream is authenticated; c takes the freed slot and is read now.
    s.ws.send(authenticatedFrame());
    await c.wait(/<starttls /);
    expect(fx.gateway.countFor("127.0.0.9")).toEqual({ connections: 3, unauthenticated: 2, waiting: 0 });
    // The control frame never reaches the peer.
    s.ws.send("<message xmlns='jabber:server' from='b@edge.test' to='a@peer.test' id='after'/>");
    await a.wait(/id='after'/);
    expect(a.text).not.toContain("authenticated");
  });

  it("a waiting connection is served when an unauthenticated one of its address closes", async () => {
    fx = await startFixture({ GATEWAY_MAX_UNAUTHENTICATED_PER_IP: "1" });
    const a = await servedStarttls(fx, "127.0.0.11");
    const b = await rawTcp(fx.gateway.ports.directTls!, "127.0.0.11");
    await until(() => fx!.gateway.countFor("127.0.0.11").waiting === 1, "the direct TLS connection to wait");
    a.socket.destroy();
    // b was held before TLS; now its handshake runs and its stream is carried.
    const tls = await import("node:tls");
    const secure = tls.connect({ socket: b.socket, rejectUnauthorized: false, servername: "edge.test" });
    await new Promise((r, j) => secure.once("secureConnect", r).once("error", j));
    secure.write(header());
    const s = await fx.edge.session();
    await fx.edge.frame(s, /^<open /);
    secure.destroy();
  });

  it("the line is bounded by GATEWAY_MAX_WAITING_PER_IP (policy-violation beyond it) and by GATEWAY_HANDSHAKE_TIMEOUT_MS (connection-timeout)", async () => {
    fx = await startFixture({ GATEWAY_MAX_UNAUTHENTICATED_PER_IP: "1", GATEWAY_MAX_WAITING_PER_IP: "1", GATEWAY_HANDSHAKE_TIMEOUT_MS: "300" });
    await rawTcp(fx.gateway.ports.starttls!, "127.0.0.12");
    const waiting = await rawTcp(fx.gateway.ports.starttls!, "127.0.0.12");
    await until(() => fx!.gateway.countFor("127.0.0.12").waiting === 1, "one connection waiting");
    const refused = await rawTcp(fx.gateway.ports.starttls!, "127.0.0.12");
    await refused.wait(/<stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
    expect(fx.gateway.refused().waiting).toBe(1);
    // Nobody authenticates: the waiting connection is closed when its wait reaches the timeout.
    await waiting.wait(/<stream:error><connection-timeout xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
    await until(() => waiting.closed, "the waiting connection to close");
  });

  it("an authenticated connection leaves the unauthenticated budget but still counts for GATEWAY_MAX_CONNECTIONS_PER_IP", async () => {
    fx = await startFixture({ GATEWAY_MAX_UNAUTHENTICATED_PER_IP: "1", GATEWAY_MAX_CONNECTIONS_PER_IP: "2", GATEWAY_MAX_WAITING_PER_IP: "5" });
    const { s } = await atEdge(fx, "127.0.0.13");
    s.ws.send(authenticatedFrame());
    await until(() => fx!.gateway.countFor("127.0.0.13").unauthenticated === 0, "the first connection to count as authenticated");
    await servedStarttls(fx, "127.0.0.13");
    const third = await rawTcp(fx.gateway.ports.starttls!, "127.0.0.13");
    await third.wait(/<stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
    expect(fx.gateway.refused().perIp).toBe(1);
  });

  it("a peer's own element in the control namespace is refused (unsupported-stanza-type), never passed to the edge", async () => {
    fx = await startFixture();
    const { peer, s } = await atEdge(fx, "127.0.0.14");
    peer.write(authenticatedFrame());
    await peer.wait(/<stream:error><unsupported-stanza-type xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
    await until(() => s.closed, "the edge WebSocket to close");
    expect(s.frames.some((f) => f.includes("authenticated"))).toBe(false);
  });
});
