// Direct XEP-0468 peers: the streams of one client address (CF-Connecting-IP) share one StreamSession
// Durable Object (durable-objects/stream-session.ts; a DO per WebSocket cost the runtime ~240 KiB
// more per stream, bench/runtime-floor.bench.ts). Each stream is still its own: verified, delivering,
// closed and restored after eviction on its own; another address gets another DO.
import { env, evictDurableObject } from "cloudflare:test";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { harness, uplink, waitJob, type Uplink } from "../harness/bridge.js";
import type { Job } from "../harness/peer.js";
import { admin, appInbox, closeUplinks } from "./helpers.js";

const links: Uplink[] = [];

beforeEach(async () => {
  await harness("POST", "/reset");
});

afterAll(async () => {
  await closeUplinks(links);
});

const streamIdOf = (link: Uplink) => /id=['"]([0-9a-f.]+)['"]/.exec(link.fromEdge.find((f) => f.includes("<open"))!)![1]!;
const msg = (id: string) => `<message from='a@peer.test' to='b@edge.test' id='${id}'><body>${id}</body></message>`;

async function verified(ip: string): Promise<Uplink> {
  const job = await harness<Job>("POST", "/jobs", { kind: "originate", to: "edge.test", stanzas: [] });
  const link = await uplink(job.id, { "cf-connecting-ip": ip });
  expect((await waitJob(job.id, ["sent", "refused", "closed"])).result).toEqual({ type: "valid" });
  links.push(link);
  return link;
}

async function gone(id: string): Promise<number> {
  const deadline = Date.now() + 5000;
  let status = 0;
  while ((status = (await admin(`/sessions/${id}`)).status) !== 404 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  return status;
}

describe("the direct streams of one client address share a Durable Object", () => {
  it("two streams from one address: one DO, each verified and delivering; another address has its own", async () => {
    const [a, b, c] = [await verified("203.0.113.50"), await verified("203.0.113.50"), await verified("198.51.100.50")];
    const [ia, ib, ic] = [a, b, c].map(streamIdOf) as [string, string, string];
    expect(ia).not.toBe(ib);
    expect(ia.split(".")[0]).toBe(ib.split(".")[0]);
    expect(ic.split(".")[0]).not.toBe(ia.split(".")[0]);
    a.ws.send(msg("ah-a"));
    b.ws.send(msg("ah-b"));
    expect(await appInbox((x) => x.includes('id="ah-a"'))).toBeDefined();
    expect(await appInbox((x) => x.includes('id="ah-b"'))).toBeDefined();
    for (const id of [ia, ib]) expect((await admin(`/sessions/${id}`)).status).toBe(200);
  });

  it("one stream closing ends only that stream", async () => {
    const [a, b] = [await verified("203.0.113.51"), await verified("203.0.113.51")];
    const ia = streamIdOf(a);
    a.ws.close(1000);
    expect(await gone(ia)).toBe(404);
    b.ws.send(msg("ah-after"));
    expect(await appInbox((x) => x.includes('id="ah-after"'))).toBeDefined();
  });

  it("both streams carry on after the DO is evicted", async () => {
    const [a, b] = [await verified("203.0.113.52"), await verified("203.0.113.52")];
    const name = streamIdOf(a).split(".")[0]!;
    await evictDurableObject(env.STREAM_SESSION.get(env.STREAM_SESSION.idFromName(name)));
    b.ws.send(msg("ah-ev-b"));
    a.ws.send(msg("ah-ev-a"));
    expect(await appInbox((x) => x.includes('id="ah-ev-a"'))).toBeDefined();
    expect(await appInbox((x) => x.includes('id="ah-ev-b"'))).toBeDefined();
    expect([a, b].some((l) => l.fromEdge.some((f) => /<(stream:)?error[ >]/.test(f)))).toBe(false);
  });
});
