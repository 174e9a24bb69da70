// The gateway's multiplexed link (src/gateway-contract.ts, issue 11 item 2): the TCP connections of
// one peer address ride one WebSocket to one StreamSession DO, a stream per channel. Each channel is
// a whole S2S stream (dialback, delivery, its own close); the DO's streams survive eviction; the
// channels' stream ids name the link's DO, so the admin API and the ControlPlane reach each stream.
import { env, evictDurableObject, SELF } from "cloudflare:test";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { harness, muxLink, waitJob, type MuxChannel, type MuxLink } from "../harness/bridge.js";
import type { Job } from "../harness/peer.js";
import { admin, APP, appInbox, sessionsGone } from "./helpers.js";
import { muxBatch, muxData } from "../../src/gateway-contract.js";

const TOKEN = "test-gateway-token-012345678";
const linkHeaders = {
  "x-edge-gateway-token": TOKEN,
  "x-edge-connection": JSON.stringify({ mux: true, peer: "192.0.2.7" }),
};
const info = (port: number) => ({ peer: `192.0.2.7:${port}`, tls: null, certIdentities: [], port: 5269 });
const msg = (id: string) => `<message from='a@peer.test' to='b@edge.test' id='${id}'><body>${id}</body></message>`;

const opened: { link: MuxLink; channels: MuxChannel[] }[] = [];

beforeEach(async () => {
  await harness("POST", "/reset");
});

// The edge finishes with every stream before the file ends (see closeUplinks in helpers.ts).
afterAll(async () => {
  const ids = opened.flatMap((o) => o.channels.map(streamIdOf));
  for (const o of opened) {
    try {
      o.link.ws.close(1000);
    } catch {
      // closed already
    }
  }
  await Promise.all(opened.map((o) => o.link.closed));
  await sessionsGone(ids);
});

/** The stream id the edge sent on a channel (its header's id). */
const streamIdOf = (c: MuxChannel) => /id=['"]([0-9a-f.]+)['"]/.exec(c.fromEdge.find((f) => f.includes("<open"))!)![1]!;

async function verifiedChannels(n: number) {
  const link = await muxLink(linkHeaders);
  const jobs: Job[] = [];
  const channels: MuxChannel[] = [];
  for (let i = 0; i < n; i++) {
    const job = await harness<Job>("POST", "/jobs", { kind: "originate", to: "edge.test", stanzas: [] });
    jobs.push(job);
    channels.push(link.channel(job.id, info(40000 + i)));
  }
  for (const job of jobs) expect((await waitJob(job.id, ["sent", "refused", "closed"])).result).toEqual({ type: "valid" });
  opened.push({ link, channels });
  return { link, jobs, channels };
}

describe("multiplexed gateway link", () => {
  it("is agreed only with the gateway's token", async () => {
    const spoofed = await SELF.fetch("https://edge.test/xmpp-s2s", {
      headers: { upgrade: "websocket", "sec-websocket-protocol": "xmpp", ...linkHeaders, "x-edge-gateway-token": "wrong-token-wrong-token-xx" },
    });
    expect(spoofed.status).toBe(403);
  });

  it("carries several S2S streams, each verified and delivering, in one Durable Object", async () => {
    const { link, channels } = await verifiedChannels(2);
    const ids = channels.map(streamIdOf);
    expect(ids[0]).not.toBe(ids[1]);
    // Both stream ids name the same DO (the link's): `<link>.<stream>`.
    expect(ids[0]!.split(".")[0]).toBe(ids[1]!.split(".")[0]);
    link.ws.send(`${channels[0]!.ch} ${msg("mx-a")}`);
    link.ws.send(`${channels[1]!.ch} ${msg("mx-b")}`);
    expect(await appInbox((x) => x.includes('id="mx-a"'))).toBeDefined();
    expect(await appInbox((x) => x.includes('id="mx-b"'))).toBeDefined();
    // The admin API sees each stream, by its own id.
    for (const id of ids) {
      const res = await admin(`/sessions/${id}`);
      expect(res.status).toBe(200);
      const s = await res.json<{ transport: string; pairs: { state: string }[] }>();
      expect(s.transport).toBe("gateway");
      expect(s.pairs.map((p) => p.state)).toEqual(["valid"]);
    }
    link.ws.close(1000);
  });

  it("answers a stream header with its header and features in one channel message", async () => {
    const { channels } = await verifiedChannels(1);
    // What one engine step writes goes as one "<ch> <frames>" message (issue 11: a WebSocket
    // event less on both sides per step).
    const first = channels[0]!.messages[0]!;
    expect(first).toContain("<open");
    expect(first).toContain("<stream:features");
    expect(channels[0]!.fromEdge.slice(0, 2).map((f) => f.slice(0, 5))).toEqual(["<open", "<stre"]);
  });

  it("keeps every stream across eviction", async () => {
    const { link, channels } = await verifiedChannels(2);
    const hub = streamIdOf(channels[0]!).split(".")[0]!;
    await evictDurableObject(env.STREAM_SESSION.get(env.STREAM_SESSION.idFromName(hub)));
    link.ws.send(`${channels[1]!.ch} ${msg("mx-evict-b")}`);
    link.ws.send(`${channels[0]!.ch} ${msg("mx-evict-a")}`);
    expect(await appInbox((x) => x.includes('id="mx-evict-a"'))).toBeDefined();
    expect(await appInbox((x) => x.includes('id="mx-evict-b"'))).toBeDefined();
    expect(channels.some((c) => c.fromEdge.some((f) => /<(stream:)?error[ >]/.test(f)))).toBe(false);
    link.ws.close(1000);
  });

  it("a channel the gateway closes ends its stream only", async () => {
    const { link, channels } = await verifiedChannels(2);
    const [a, b] = channels as [MuxChannel, MuxChannel];
    const idA = streamIdOf(a);
    a.close();
    const deadline = Date.now() + 5000;
    while ((await admin(`/sessions/${idA}`)).status !== 404 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    expect((await admin(`/sessions/${idA}`)).status).toBe(404);
    link.ws.send(`${b.ch} ${msg("mx-after")}`);
    expect(await appInbox((x) => x.includes('id="mx-after"'))).toBeDefined();
    link.ws.close(1000);
  });

  it("the edge ending a stream closes its channel, with the stream's close before it", async () => {
    const { link, channels } = await verifiedChannels(2);
    const [a, b] = channels as [MuxChannel, MuxChannel];
    const res = await admin(`/sessions/${streamIdOf(a)}`, { method: "DELETE" });
    expect(res.status).toBeLessThan(300);
    await a.closed;
    const closeAt = link.messages.indexOf(JSON.stringify({ op: "close", ch: a.ch }));
    expect(closeAt).toBeGreaterThan(0);
    expect(link.messages.slice(0, closeAt).some((m) => m.startsWith(`${a.ch} `) && m.includes("<close"))).toBe(true);
    // The other channel is untouched.
    expect(link.messages.some((m) => m === JSON.stringify({ op: "close", ch: b.ch }))).toBe(false);
    link.ws.send(`${b.ch} ${msg("mx-other")}`);
    expect(await appInbox((x) => x.includes('id="mx-other"'))).toBeDefined();
    link.ws.close(1000);
  });

  it("reads a batch message (X-Edge-Mux-Batch): the messages of several channels in one WebSocket message, each delivered", async () => {
    const { link, channels } = await verifiedChannels(2);
    expect(link.readsBatches).toBe(true);
    const [a, b] = channels as [MuxChannel, MuxChannel];
    link.ws.send(muxBatch([muxData(a.ch, msg("mx-batch-a1")), muxData(b.ch, msg("mx-batch-b")), muxData(a.ch, msg("mx-batch-a2"))]));
    expect(await appInbox((x) => x.includes('id="mx-batch-a2"'))).toBeDefined();
    expect(await appInbox((x) => x.includes('id="mx-batch-b"'))).toBeDefined();
    // A channel's messages keep their order within the batch.
    const items = (await (await SELF.fetch("https://edge.test/api/v1/inbox?limit=20", { headers: APP })).json<{ items: { xml: string }[] }>()).items;
    const pos = (id: string) => items.findIndex((i) => i.xml.includes(`id="${id}"`));
    expect(pos("mx-batch-a2")).toBeLessThan(pos("mx-batch-a1")); // newest first
    link.ws.close(1000);
  });

  it("a batch with a new channel's open and its stream header: the header is answered on that channel", async () => {
    const link = await muxLink(linkHeaders);
    const header = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing-server' to='edge.test' from='peer.test' version='1.0'/>";
    link.ws.send(muxBatch([JSON.stringify({ op: "open", ch: 41, info: info(40041) }), muxData(41, header)]));
    const deadline = Date.now() + 5000;
    const answer = () => link.messages.find((m) => m.startsWith("41 ") && m.includes("<stream:features"));
    while (!answer() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    expect(answer()).toMatch(/^41 <open [^>]*from=['"]edge\.test['"]/);
    link.ws.close(1000);
    await link.closed;
    await sessionsGone([/id=['"]([0-9a-f.]+)['"]/.exec(answer()!)![1]!]);
  });

  it("a malformed batch closes the link (1002), as any malformed link message", async () => {
    const { link, channels } = await verifiedChannels(1);
    const good = muxData(channels[0]!.ch, msg("mx-bad-batch"));
    link.ws.send(`*${good.length + 5}:${good}`);
    expect(await link.closed).toBe(1002);
  });

  it("a malformed link message closes the link (1002), and with it every stream", async () => {
    const { link, channels } = await verifiedChannels(1);
    link.ws.send("not a mux message");
    expect(await link.closed).toBe(1002);
    const id = streamIdOf(channels[0]!);
    const deadline = Date.now() + 5000;
    while ((await admin(`/sessions/${id}`)).status !== 404 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    expect((await admin(`/sessions/${id}`)).status).toBe(404);
  });

  it("an open with bad connection info is refused with a close for that channel", async () => {
    const link = await muxLink(linkHeaders);
    link.ws.send(JSON.stringify({ op: "open", ch: 7, info: { peer: 5 } }));
    const deadline = Date.now() + 5000;
    while (!link.messages.includes(JSON.stringify({ op: "close", ch: 7 })) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    expect(link.messages).toContain(JSON.stringify({ op: "close", ch: 7 }));
    link.ws.close(1000);
  });

  it("refuses a channel beyond MUX_MAX_STREAMS (3 here) with a close for it alone", async () => {
    const { link, channels } = await verifiedChannels(3);
    link.ws.send(JSON.stringify({ op: "open", ch: 99, info: info(40099) }));
    const deadline = Date.now() + 5000;
    while (!link.messages.includes(JSON.stringify({ op: "close", ch: 99 })) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    expect(link.messages).toContain(JSON.stringify({ op: "close", ch: 99 }));
    // Nothing was started for it, and the three streams carry on.
    expect(link.messages.some((m) => m.startsWith("99 "))).toBe(false);
    link.ws.send(`${channels[2]!.ch} ${msg("mx-cap")}`);
    expect(await appInbox((x) => x.includes('id="mx-cap"'))).toBeDefined();
    link.ws.close(1000);
  });
});
