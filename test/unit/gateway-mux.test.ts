// The gateway's side of the multiplexed ingress link (src/gateway-contract.ts, "Multiplexed ingress
// link"; gateway/mux-link.ts): the TCP connections of one peer address share a WebSocket to the
// edge, each a channel opened with the connection's facts; a fake mux edge records what arrives.

import type { TLSSocket } from "node:tls";
import { afterEach, describe, expect, it } from "vitest";
import { MAX_BATCH_CHARS, type GatewayConnectionInfo } from "../../gateway/edge-link.js";
import { memoryLogger } from "../../gateway/log.js";
import { MuxPool, peerAddress } from "../../gateway/mux-link.js";
import { authenticatedFrame } from "../../src/gateway-contract.js";
import { FakeMuxEdge, FRAMING, Peer, TOKEN, header, startFixture, until, type Fixture, type MuxLinkAtEdge } from "./gateway-fixtures.js";

let fx: Fixture | undefined;
let edge: FakeMuxEdge | undefined;
let pool: MuxPool | undefined;
const peers: Peer[] = [];
afterEach(async () => {
  for (const p of peers.splice(0)) p.socket.destroy();
  pool?.close();
  pool = undefined;
  await fx?.stop();
  fx = undefined;
  await edge?.stop();
  edge = undefined;
});

const edgeOpen = (id: string) => `<open xmlns='${FRAMING}' from='edge.test' to='peer.test' id='${id}' version='1.0'/>`;
const features = "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><dialback xmlns='urn:xmpp:features:dialback'/></stream:features>";
const streamError = (condition: string) => new RegExp(`<stream:error><${condition} xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>.*</stream:error></stream:stream>`);

/** A gateway with GATEWAY_MUX on, toward a fake mux edge. */
async function start(env: Record<string, string> = {}): Promise<{ fx: Fixture; edge: FakeMuxEdge }> {
  edge = await new FakeMuxEdge().start();
  fx = await startFixture({ GATEWAY_MUX: "on", GATEWAY_EDGE_URL: edge.url, ...env });
  return { fx, edge };
}

/** A direct TLS peer from `from` that has sent its stream header. */
async function peer(from: string): Promise<Peer> {
  const p = await Peer.directTls(fx!.gateway.ports.directTls!, { from });
  peers.push(p);
  p.write(header());
  return p;
}

/** The channel of `p` on `l` (by the port in its open control's info.peer). */
async function channelOf(l: MuxLinkAtEdge, p: Peer): Promise<number> {
  const want = `${p.socket.localAddress}:${p.socket.localPort}`;
  await until(() => edge!.opens(l).some((o) => o.info.peer === want), `the open control of ${want}`);
  return edge!.opens(l).find((o) => o.info.peer === want)!.ch;
}

/** A peer whose stream the edge has opened on its channel. */
async function served(l: MuxLinkAtEdge, p: Peer, id: string): Promise<number> {
  const ch = await channelOf(l, p);
  await edge!.frame(l, ch, /^<open /);
  edge!.send(l, ch, edgeOpen(id));
  await p.wait(new RegExp(`<stream:stream [^>]*id='${id}'`));
  return ch;
}

describe("gateway: multiplexed ingress link (GATEWAY_MUX=on)", () => {
  it("two connections from one address share one WebSocket, each a channel opened with its own connection facts; frames go both ways on the right channel", async () => {
    const { fx, edge } = await start();
    const a = await peer("127.0.0.1");
    const b = await peer("127.0.0.1");
    const l = await edge.link(0);
    expect(l.ws.protocol).toBe("xmpp");
    expect(l.req.headers["x-edge-gateway-token"]).toBe(TOKEN);
    expect(JSON.parse(String(l.req.headers["x-edge-connection"]))).toEqual({ mux: true, peer: "127.0.0.1" });

    const chA = await channelOf(l, a);
    const chB = await channelOf(l, b);
    expect(new Set([chA, chB])).toEqual(new Set([1, 2]));
    const tls = a.socket as TLSSocket;
    // The open control's info is what a one-stream link's X-Edge-Connection carries.
    expect(edge.opens(l).find((o) => o.ch === chA)!.info).toEqual({
      peer: `127.0.0.1:${tls.localPort}`,
      tls: { version: tls.getProtocol(), cipher: tls.getCipher().standardName },
      certIdentities: [],
      port: fx.gateway.ports.directTls,
      framing: "batched",
      signals: ["authenticated"],
      local: "edge.test",
    });
    const openA = await edge.frame(l, chA, /^<open /);
    // Each open control comes before its channel's data.
    const openAt = l.messages.findIndex((m) => m.startsWith(`{"op":"open","ch":${chA},`));
    expect(openAt).toBeGreaterThanOrEqual(0);
    expect(l.messages.findIndex((m) => m.startsWith(`${chA} `))).toBeGreaterThan(openAt);
    expect(openA).toContain("to='edge.test'");
    await edge.frame(l, chB, /^<open /);

    // Several frames in one data message (a channel is batched both ways).
    edge.send(l, chA, edgeOpen("sA") + features);
    await a.wait(/<stream:stream [^>]*id='sA'/);
    await a.wait(/<dialback xmlns='urn:xmpp:features:dialback'\/>/);
    edge.send(l, chB, edgeOpen("sB"));
    await b.wait(/<stream:stream [^>]*id='sB'/);
    expect(a.text).not.toContain("sB");
    expect(b.text).not.toContain("sA");

    a.write("<message from='x@peer.test' to='y@edge.test' id='fromA'/>");
    b.write("<message from='x@peer.test' to='y@edge.test' id='fromB'/>");
    await edge.frame(l, chA, /id='fromA'/);
    await edge.frame(l, chB, /id='fromB'/);
    expect(edge.data(l, chA).join("")).not.toContain("fromB");
    expect(edge.data(l, chB).join("")).not.toContain("fromA");
    edge.send(l, chB, "<message xmlns='jabber:server' from='y@edge.test' to='x@peer.test' id='toB'/>");
    await b.wait(/id='toB'/);
    expect(a.text).not.toContain("toB");
    expect(edge.links).toHaveLength(1);
  });

  it("the edge's close for one channel ends that TCP connection only; the TCP peer going away sends a close for its channel, and the last one closes the link", async () => {
    const { edge } = await start();
    const a = await peer("127.0.0.1");
    const b = await peer("127.0.0.1");
    const l = await edge.link(0);
    const chA = await served(l, a, "a1");
    const chB = await served(l, b, "b1");

    // The edge ends a's stream: <close/>, then the channel's close control.
    edge.send(l, chA, `<close xmlns='${FRAMING}'/>`);
    edge.close(l, chA);
    await a.wait(/<\/stream:stream>$/);
    await until(() => a.closed, "a's TCP connection to close");
    edge.send(l, chB, "<message xmlns='jabber:server' from='y@edge.test' to='x@peer.test' id='stillB'/>");
    await b.wait(/id='stillB'/);
    expect(b.closed).toBe(false);
    expect(l.closed).toBe(false);

    // b's peer goes away: the edge hears the close for b's channel, and the link, now empty, closes.
    b.socket.destroy();
    await until(() => edge.closes(l).includes(chB), "the close control for b's channel");
    await until(() => l.closed, "the link with no channel left to close");
    expect(l.closeCode).toBe(1000);
  });

  it("with GATEWAY_MUX_STREAMS=2 the third connection of an address opens a second WebSocket; channel numbers are never reused on a link", async () => {
    const { edge } = await start({ GATEWAY_MUX_STREAMS: "2" });
    const a = await peer("127.0.0.1");
    const b = await peer("127.0.0.1");
    const first = await edge.link(0);
    await edge.waitOpens(first, 2);
    const c = await peer("127.0.0.1");
    const second = await edge.link(1);
    expect(JSON.parse(String(second.req.headers["x-edge-connection"]))).toEqual({ mux: true, peer: "127.0.0.1" });
    expect(await channelOf(second, c)).toBe(1);
    await edge.frame(second, 1, /^<open /);

    // a leaves: the first link has room again, and the next connection gets a new number there.
    const chA = await channelOf(first, a);
    a.socket.destroy();
    await until(() => edge.closes(first).includes(chA), "the close control for a's channel");
    const d = await peer("127.0.0.1");
    expect(await channelOf(first, d)).toBe(3);
    expect(edge.links).toHaveLength(2);
    expect(b.closed).toBe(false);
  });

  it("another address gets a link of its own", async () => {
    const { edge } = await start();
    await peer("127.0.0.1");
    await edge.waitOpens(await edge.link(0), 1);
    await peer("127.0.0.2");
    const l2 = await edge.link(1);
    expect(JSON.parse(String(l2.req.headers["x-edge-connection"]))).toEqual({ mux: true, peer: "127.0.0.2" });
  });

  it("the authenticated frame on a channel counts that connection (and only it) as authenticated, and never reaches the peer", async () => {
    const { fx, edge } = await start();
    const a = await peer("127.0.0.20");
    const b = await peer("127.0.0.20");
    const l = await edge.link(0);
    const chA = await served(l, a, "a1");
    await served(l, b, "b1");
    expect(fx.gateway.countFor("127.0.0.20")).toMatchObject({ connections: 2, unauthenticated: 2 });
    edge.send(l, chA, authenticatedFrame());
    await until(() => fx.gateway.countFor("127.0.0.20").unauthenticated === 1, "one connection to count as authenticated");
    edge.send(l, chA, "<message xmlns='jabber:server' from='y@edge.test' to='x@peer.test' id='after'/>");
    await a.wait(/id='after'/);
    expect(a.text).not.toContain("authenticated");
    expect(fx.gateway.countFor("127.0.0.20")).toMatchObject({ connections: 2, unauthenticated: 1 });
  });

  it.each([
    ["the WebSocket is cut", (l: MuxLinkAtEdge) => l.ws.terminate(), /edge closed the mux link: 1006/],
    ["the edge sends a malformed message", (l: MuxLinkAtEdge) => l.ws.send("x <message/>"), /malformed mux message/],
  ])("a lost link (%s) closes all its connections with a stream error", async (_what, lose, reason) => {
    const { fx, edge } = await start();
    const a = await peer("127.0.0.1");
    const b = await peer("127.0.0.1");
    const l = await edge.link(0);
    await served(l, a, "a1");
    await served(l, b, "b1");
    lose(l);
    for (const p of [a, b]) {
      await p.wait(streamError("internal-server-error"));
      await until(() => p.closed, "the TCP connection to close");
    }
    expect(fx.log.entries.some((e) => e.msg === "edge link lost" && reason.test(String(e.reason)))).toBe(true);
    await until(() => fx.gateway.connections() === 0, "both connections to be released");
  });

  it("an edge whose 101 lacks X-Edge-Mux: 1 is not used as a one-stream link: the connection ends with a stream error", async () => {
    const { fx, edge } = await start();
    edge.speaksMux = false;
    const a = await peer("127.0.0.1");
    await a.wait(streamError("internal-server-error"));
    await until(() => a.closed, "the TCP connection to close");
    expect(fx.log.entries.some((e) => e.msg === "edge link lost" && /does not speak the mux link/.test(String(e.reason)))).toBe(true);
    // Nothing of the stream went to an edge that would have read it as something else.
    const l = await edge.link(0);
    expect(l.messages).toEqual([]);
  });

  it("optional TLS: the plaintext stream is a channel with tls null; at <starttls/> it gets <close/> and its close, and the stream after TLS is a new channel", async () => {
    const { edge } = await start({ GATEWAY_REQUIRE_TLS: "false" });
    const p = await Peer.tcp(fx!.gateway.ports.starttls!);
    peers.push(p);
    p.write(header());
    const l = await edge.link(0);
    const [plain] = await edge.waitOpens(l, 1);
    expect(plain!.info.tls).toBeNull();
    await edge.frame(l, plain!.ch, /^<open /);
    edge.send(l, plain!.ch, edgeOpen("p1") + features);
    await p.wait(/<stream:features[^>]*><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'\/><dialback/);
    p.write("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    await p.wait(/<proceed /);
    await p.startTls();
    await until(() => edge.closes(l).includes(plain!.ch), "the plaintext channel's close");
    expect(edge.data(l, plain!.ch).at(-1)).toMatch(new RegExp(`<close xmlns='${FRAMING}'/>$`));
    p.write(header());
    // The first link closed with its last channel, or still carries the new one: either way a new channel.
    await until(() => edge.links.some((k) => edge.opens(k).some((o) => o.info.tls !== null)), "the channel after TLS");
    const k = edge.links.find((x) => edge.opens(x).some((o) => o.info.tls !== null))!;
    const secure = edge.opens(k).find((o) => o.info.tls !== null)!;
    expect((secure.info.tls as { version: string }).version).toMatch(/^TLSv1\.[23]$/);
    await edge.frame(k, secure.ch, /^<open /);
  });

  it("backpressure before TLS (optional TLS): writes to a plaintext peer backing up pause the link, and it is read again once they drain, nothing lost", async () => {
    const { edge } = await start({ GATEWAY_REQUIRE_TLS: "false", GATEWAY_HIGH_WATER_MARK: "65536" });
    const p = await Peer.tcp(fx!.gateway.ports.starttls!);
    peers.push(p);
    p.write(header());
    const l = await edge.link(0);
    const [open] = await edge.waitOpens(l, 1);
    await edge.frame(l, open!.ch, /^<open /);
    edge.send(l, open!.ch, edgeOpen("p1"));
    await p.wait(/<stream:stream /);
    const body = "x".repeat(8000);
    // 8 MB in a burst: the gateway's writes to the peer's socket back up (write() returns false),
    // which pauses the link; the socket's drain must resume it (before TLS: the raw socket's).
    const n = 1000;
    for (let i = 0; i < n; i++) edge.send(l, open!.ch, `<message xmlns='jabber:server' to='a@peer.test' id='m${i}'><body>${body}</body></message>`);
    await until(() => p.text.includes(`id='m${n - 1}'`), "every message to arrive", 30_000);
    const ids = [...p.text.matchAll(/id='m(\d+)'/g)].map((m) => Number(m[1]));
    expect(ids).toEqual(Array.from({ length: n }, (_, i) => i));
  }, 40_000);

  it("an idle stream ends with connection-timeout: <close/> and the channel's close reach the edge", async () => {
    const { edge } = await start({ GATEWAY_IDLE_TIMEOUT_MS: "300" });
    const a = await peer("127.0.0.1");
    const l = await edge.link(0);
    const ch = await served(l, a, "a1");
    await a.wait(streamError("connection-timeout"));
    await until(() => edge.closes(l).includes(ch), "the channel's close");
    expect(edge.data(l, ch).at(-1)).toMatch(new RegExp(`<close xmlns='${FRAMING}'/>$`));
  });

  it("an edge that refuses the link: internal-server-error to the peer, the HTTP status in the log", async () => {
    const { fx, edge } = await start();
    edge.refuse = 403;
    const a = await peer("127.0.0.1");
    await a.wait(streamError("internal-server-error"));
    await until(() => a.closed, "close");
    expect(fx.log.entries.some((e) => e.msg === "edge link lost" && String(e.reason).includes("HTTP 403"))).toBe(true);
  });

  it("on shutdown every stream gets system-shutdown, the edge <close/> and the channel's close, and the link closes", async () => {
    const { fx, edge } = await start();
    const a = await peer("127.0.0.1");
    const b = await peer("127.0.0.1");
    const l = await edge.link(0);
    const chA = await served(l, a, "a1");
    const chB = await served(l, b, "b1");
    const closed = fx.gateway.close();
    for (const p of [a, b]) await p.wait(streamError("system-shutdown"));
    await closed;
    await until(() => l.closed, "the link to close");
    expect(edge.closes(l).sort()).toEqual([chA, chB].sort());
    for (const ch of [chA, chB]) expect(edge.data(l, ch).at(-1)).toMatch(new RegExp(`<close xmlns='${FRAMING}'/>$`));
    expect(fx.gateway.connections()).toBe(0);
  });

  it("GATEWAY_MUX=off keeps one WebSocket per connection, with the one-stream connection header", async () => {
    fx = await startFixture({ GATEWAY_MUX: "off" });
    const a = await peer("127.0.0.1");
    const b = await peer("127.0.0.1");
    const sa = await fx.edge.session(0);
    const sb = await fx.edge.session(1);
    const infos = [sa, sb].map((s) => JSON.parse(String(s.req.headers["x-edge-connection"])) as { peer: string; mux?: boolean });
    expect(infos.map((i) => i.peer).sort()).toEqual([`127.0.0.1:${a.socket.localPort}`, `127.0.0.1:${b.socket.localPort}`].sort());
    expect(infos.every((i) => i.mux === undefined)).toBe(true);
    await fx.edge.frame(sa, /^<open /);
    await fx.edge.frame(sb, /^<open /);
  });
});

describe("MuxPool", () => {
  const info = (port: number): GatewayConnectionInfo => ({ peer: `127.0.0.1:${port}`, tls: null, certIdentities: [], port: 5269, framing: "batched", signals: ["authenticated"] });
  const stanza = (i: number) => `<message xmlns='jabber:server' id='m${i}'/>`;
  const events = () => {
    const e = { messages: [] as string[], closed: [] as Array<string | undefined>, drained: 0 };
    return { e, events: { message: (t: string) => e.messages.push(t), closed: (r: string | undefined) => e.closed.push(r), drained: () => e.drained++ } };
  };

  async function startPool(maxStreams = 256) {
    edge = await new FakeMuxEdge().start();
    pool = new MuxPool({ url: edge.url, token: TOKEN, maxStreams, log: memoryLogger() });
    return pool;
  }

  it("takes the address from peer, IPv4 or IPv6", () => {
    expect(peerAddress("203.0.113.5:40212")).toBe("203.0.113.5");
    expect(peerAddress("[2001:db8::1]:40212")).toBe("2001:db8::1");
  });

  it("frames sent before the link opens wait: the open control first, then the data in one message, in order; a close before the open follows them, then the empty link closes", async () => {
    const p = await startPool();
    const { e, events: ev } = events();
    const ch = p.channel(info(1000), 1 << 20, ev);
    ch.sendMany([`<open xmlns='${FRAMING}' to='edge.test'/>`, stanza(0)]);
    ch.sendMany([stanza(1)]);
    ch.send(`<close xmlns='${FRAMING}'/>`);
    ch.close(1000, "bye");
    const l = await edge!.link(0);
    await until(() => l.closed, "the link to close");
    expect(l.messages).toEqual([
      JSON.stringify({ op: "open", ch: 1, info: info(1000) }),
      `1 <open xmlns='${FRAMING}' to='edge.test'/>${stanza(0)}${stanza(1)}<close xmlns='${FRAMING}'/>`,
      JSON.stringify({ op: "close", ch: 1 }),
    ]);
    await until(() => e.closed.length > 0, "closed");
    expect(e.closed).toEqual([undefined]);
    expect(ch.messagesSent).toBe(1);
    expect(p.links()).toBe(0);
  });

  // Batch messages (src/gateway-contract.ts): a host with many vhosts opens its connections together;
  // what the link has for the edge while one message is being written goes as one message after it.
  /** `n` channels opened in one go (ports from `port0`), each sending its stream header and a stanza. */
  const openTogether = (p: MuxPool, n: number, port0: number) =>
    Array.from({ length: n }, (_, i) => {
      const ch = p.channel(info(port0 + i), 1 << 20, events().events);
      ch.sendMany([`<open xmlns='${FRAMING}' to='edge.test'/>`, stanza(i)]);
      return ch;
    });

  it("channels opened together reach an edge that reads batches in two WebSocket messages, each channel's messages whole and in order", async () => {
    const chans = openTogether(await startPool(), 20, 2000);
    const l = await edge!.link(0);
    await until(() => l.messages.length >= 40, "20 opens and their data");
    // All 40 messages were sent before the link opened: the opens went as one batch, the channels'
    // data (each channel holds its frames until the link is open) as one more.
    expect(l.raw).toHaveLength(2);
    expect(l.raw.every((m) => m.startsWith("*"))).toBe(true);
    expect(edge!.opens(l).map((o) => o.ch)).toEqual(chans.map((c) => c.ch));
    for (const [i, c] of chans.entries()) expect(edge!.data(l, c.ch)).toEqual([`<open xmlns='${FRAMING}' to='edge.test'/>${stanza(i)}`]);
    // Each channel's open control comes before its data.
    for (const c of chans) expect(l.messages.indexOf(JSON.stringify({ op: "open", ch: c.ch, info: info(2000 + chans.indexOf(c)) }))).toBeLessThan(l.messages.indexOf(`${c.ch} <open xmlns='${FRAMING}' to='edge.test'/>${stanza(chans.indexOf(c))}`));

    // Once open: what several channels send in one turn of the event loop (the reads of many TCP
    // connections ready at once) goes as one message at its end.
    const before = l.raw.length;
    for (const [i, c] of chans.entries()) c.sendMany([stanza(100 + i)]);
    await until(() => chans.every((c, i) => edge!.data(l, c.ch).join("").includes(`id='m${100 + i}'`)), "the second round");
    expect(l.raw.length - before).toBe(1);
  });

  it("an edge without X-Edge-Mux-Batch (an older edge) gets no batch: one WebSocket message per mux message", async () => {
    const p = await startPool();
    edge!.readsBatches = false;
    const chans = openTogether(p, 5, 3000);
    const l = await edge!.link(0);
    await until(() => l.messages.length >= 10, "5 opens and their data");
    for (const [i, c] of chans.entries()) c.sendMany([stanza(100 + i)]);
    await until(() => l.messages.length >= 15, "the second round");
    expect(l.raw).toEqual(l.messages);
    expect(l.raw.some((m) => m.startsWith("*"))).toBe(false);
  });

  it("never puts more than MAX_BATCH_CHARS of frames in one message, but a larger frame goes whole", async () => {
    const p = await startPool();
    const { events: ev } = events();
    const big = (c: string, n: number) => `<x xmlns='jabber:server'>${c.repeat(n)}</x>`;
    const third = Math.floor(MAX_BATCH_CHARS / 3);
    const frames = [big("a", third), big("b", third), big("c", third), big("d", MAX_BATCH_CHARS + 10)];
    const ch = p.channel(info(1001), 1 << 30, ev);
    ch.sendMany(frames);
    const l = await edge!.link(0);
    await until(() => edge!.data(l, 1).join("").includes("dddd</x>"), "all data");
    const data = edge!.data(l, 1);
    expect(data.join("")).toBe(frames.join(""));
    expect(data.length).toBe(3);
    expect(data[0]!.length).toBeLessThanOrEqual(MAX_BATCH_CHARS);
    expect(data[2]).toBe(frames[3]);
  });

  it("flow control is the link's: a channel that fills it makes the others of the link congested too, and every one that was told so hears drained", async () => {
    const p = await startPool();
    const a = events();
    const b = events();
    const hwm = 16 * 1024;
    const chA = p.channel(info(1002), hwm, a.events);
    const chB = p.channel(info(1003), hwm, b.events);
    // Before the link opens the data waits in the gateway: a's 32 KiB congest the link for b too.
    expect(chA.sendMany([`<x xmlns='jabber:server'>${"a".repeat(32 * 1024)}</x>`])).toBe(false);
    expect(chB.congested).toBe(true);
    expect(chB.send(stanza(1))).toBe(false);
    await until(() => a.e.drained === 1 && b.e.drained === 1, "both channels to hear drained");
    expect(chA.congested).toBe(false);
  });

  it("a channel's pause stops reading the link while any channel of it asks; a channel that ends gives its pause back", async () => {
    const p = await startPool();
    const a = events();
    const b = events();
    const chA = p.channel(info(1004), 1 << 20, a.events);
    const chB = p.channel(info(1005), 1 << 20, b.events);
    await until(() => chA.open, "the link to open");
    chA.pause();
    chB.pause();
    expect(chB.linkPaused).toBe(true);
    chA.resume();
    expect(chB.linkPaused).toBe(true);
    chB.resume();
    expect(chB.linkPaused).toBe(false);
    chA.pause();
    chA.pause();
    chA.close();
    expect(chB.linkPaused).toBe(false);
    // And the link is read: a message for b arrives.
    const l = await edge!.link(0);
    edge!.send(l, 2, stanza(9));
    await until(() => b.e.messages.length === 1, "b's message");
    expect(b.e.messages).toEqual([stanza(9)]);
  });

  it("data or a close for a channel the gateway closed is dropped; the edge's close for a channel reports closed(undefined) to it alone", async () => {
    const p = await startPool();
    const a = events();
    const b = events();
    const c = events();
    const chA = p.channel(info(1006), 1 << 20, a.events);
    p.channel(info(1007), 1 << 20, b.events);
    p.channel(info(1008), 1 << 20, c.events);
    await until(() => chA.open, "the link to open");
    chA.close();
    const l = await edge!.link(0);
    edge!.send(l, 1, stanza(1));
    edge!.close(l, 1);
    edge!.close(l, 2);
    edge!.send(l, 3, stanza(3));
    await until(() => c.e.messages.length === 1 && b.e.closed.length === 1, "b's close and c's data");
    expect(a.e.messages).toEqual([]);
    expect(a.e.closed).toEqual([undefined]);
    expect(b.e.closed).toEqual([undefined]);
    expect(c.e.closed).toEqual([]);
  });
});
