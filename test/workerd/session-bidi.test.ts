// XEP-0288 bidi on the send path: a peer that opened a bidirectional stream to us gets the
// application's stanzas (POST /api/v1/stanzas) on that very stream, for the inverse of the pairs it
// verified there (XEP-0288 §2), instead of a new outbound connection; everything else, and anything
// the stream can no longer carry, goes the normal outbound way.
import { env, evictDurableObject, SELF } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { harness, inbox, stats, uplink, waitJob, type Uplink } from "../harness/bridge.js";
import type { Job } from "../harness/peer.js";
import { APP, peerDomain } from "./helpers.js";

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function apiSend(xml: string): Promise<void> {
  const res = await SELF.fetch("https://edge.test/api/v1/stanzas", { method: "POST", headers: APP, body: xml });
  expect(res.status).toBe(202);
}

/** peer.test opens a bidi stream to edge.test over /xmpp-s2s and gets peer.test -> edge.test verified. */
async function bidiStream(waitRoute = true): Promise<{ link: Uplink; session: string }> {
  const job = await harness<Job>("POST", "/jobs", {
    kind: "originate", to: "edge.test", requestBidi: true,
    stanzas: ["<message from='alice@peer.test' to='bob@edge.test' id='in1'><body>hello</body></message>"],
  });
  const link = await uplink(job.id);
  const done = await waitJob(job.id, ["sent", "refused", "closed"]);
  expect(done.result).toEqual({ type: "valid" });
  expect(done.bidi).toBe(true);
  if (!waitRoute) return { link, session: "" };
  // The session announces itself to peer.test's RemoteDomain before the peer reads type='valid'.
  const routes = await until(() => peerDomain().bidiRoutes(), (r) => r.length > 0);
  expect(routes.length).toBeGreaterThan(0);
  return { link, session: routes[0]! };
}

beforeEach(async () => {
  await harness("POST", "/reset");
  // The harness's receiving role accepts the edge's dialback at once when the edge does dial out.
  await harness("POST", "/config", { verify: "valid" });
});

describe("application stanzas over the peer's inbound bidi stream (XEP-0288 §2)", () => {
  it("sends an API stanza on the peer's own bidi connection: no new connection, no dialback", async () => {
    const { link } = await bidiStream();
    const before = { ...(await stats()), connections: await peerDomain().connections() };
    await apiSend("<message from='app@edge.test' to='carol@peer.test' id='bidi-out1'><body>same stream</body></message>");
    const { items } = await inbox(1);
    expect(items.some((x) => x.includes('id="bidi-out1"'))).toBe(true);
    // It travelled on the WebSocket the peer opened (the frames the edge wrote to it) ...
    expect(link.fromEdge.some((f) => f.includes("bidi-out1") && f.includes("same stream"))).toBe(true);
    // ... and the edge neither dialled peer.test nor authenticated edge.test -> peer.test.
    const after = { ...(await stats()), connections: await peerDomain().connections() };
    expect(after.tcpAccepted).toBe(before.tcpAccepted);
    expect(after.dbResults).toBe(before.dbResults);
    expect(after.connections).toBe(before.connections);
    expect(await peerDomain().queued()).toBe(0);
    link.ws.close(1000);
  });

  it("carries an API stanza sent right after the peer saw its pair valid, without waiting for the route", async () => {
    const { link } = await bidiStream(false);
    await apiSend("<message from='app@edge.test' to='carol@peer.test' id='bidi-now'><body>right away</body></message>");
    const { items } = await inbox(1);
    expect(items.some((x) => x.includes('id="bidi-now"'))).toBe(true);
    expect(link.fromEdge.some((f) => f.includes("bidi-now"))).toBe(true);
    link.ws.close(1000);
  });

  it("still uses the bidi stream after the stream session was evicted (its pairs come back from SQLite)", async () => {
    const { link, session } = await bidiStream();
    await evictDurableObject(env.STREAM_SESSION.get(env.STREAM_SESSION.idFromName(session)));
    const before = await stats();
    await apiSend("<message from='app@edge.test' to='carol@peer.test' id='bidi-evict'><body>after eviction</body></message>");
    const { items } = await inbox(1);
    expect(items.some((x) => x.includes('id="bidi-evict"'))).toBe(true);
    expect(link.fromEdge.some((f) => f.includes("bidi-evict"))).toBe(true);
    expect((await stats()).dbResults).toBe(before.dbResults);
    link.ws.close(1000);
  });

  it("keeps a pair the peer did not verify off the bidi stream: chat.edge.test goes outbound", async () => {
    const { link } = await bidiStream();
    const before = await stats();
    // Only peer.test -> edge.test was verified on the stream; its inverse is all it may carry.
    await apiSend("<message from='app@chat.edge.test' to='carol@peer.test' id='bidi-out2'><body>other pair</body></message>");
    const { items } = await inbox(1);
    expect(items.some((x) => x.includes('id="bidi-out2"'))).toBe(true);
    expect(link.fromEdge.some((f) => f.includes("bidi-out2"))).toBe(false);
    // The normal path: dialback for chat.edge.test -> peer.test on the edge's outbound stream.
    expect((await stats()).dbResults).toBe(before.dbResults + 1);
    link.ws.close(1000);
  });

  it("falls back to the outbound path once the bidi stream is closed, and forgets a stale route", async () => {
    const { link, session } = await bidiStream();
    link.ws.close(1000);
    await link.closed;
    // The closed session withdraws itself ...
    await until(() => peerDomain().bidiRoutes(), (r) => !r.includes(session));
    // ... and a route that outlived its stream (withdrawal lost) is refused by the session itself.
    await peerDomain().addBidiRoute(session, "edge.test");
    const before = await stats();
    await apiSend("<message from='app@edge.test' to='carol@peer.test' id='bidi-out3'><body>after close</body></message>");
    const { items } = await inbox(1);
    expect(items.some((x) => x.includes('id="bidi-out3"'))).toBe(true);
    expect(link.fromEdge.some((f) => f.includes("bidi-out3"))).toBe(false);
    expect((await stats()).dbResults).toBe(before.dbResults + 1);
    expect(await peerDomain().bidiRoutes()).not.toContain(session);
    expect(await peerDomain().queued()).toBe(0);
  });
});
