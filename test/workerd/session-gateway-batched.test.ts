// The gateway's batched framing (durable-objects/lib/connection-info.ts): the edge agrees only on a
// connection that carries the gateway token, reads several frames per message in order, keeps them
// across eviction, and still refuses a message that ends inside an element.
import { env, evictDurableObject, SELF } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { harness, uplink, waitJob } from "../harness/bridge.js";
import type { Job } from "../harness/peer.js";
import { appInbox } from "./helpers.js";

const TOKEN = "test-gateway-token-012345678";
const gateway = (framing?: "batched") => ({
  "x-edge-gateway-token": TOKEN,
  "x-edge-connection": JSON.stringify({ peer: "192.0.2.7:40000", tls: null, certIdentities: [], port: 5269, ...(framing ? { framing } : {}) }),
});
const upgrade = (headers: Record<string, string>) =>
  SELF.fetch("https://edge.test/xmpp-s2s", { headers: { upgrade: "websocket", "sec-websocket-protocol": "xmpp", ...headers } });

beforeEach(async () => {
  await harness("POST", "/reset");
});

async function batchedSession() {
  const job = await harness<Job>("POST", "/jobs", { kind: "originate", to: "edge.test", stanzas: [] });
  const link = await uplink(job.id, gateway("batched"));
  expect(link.batched).toBe(true);
  expect((await waitJob(job.id, ["sent", "refused", "closed"])).result).toEqual({ type: "valid" });
  const streamId = /id=['"]([0-9a-f]{32})['"]/.exec(link.fromEdge[0]!)![1]!;
  return { job, link, stub: env.STREAM_SESSION.get(env.STREAM_SESSION.idFromName(streamId)) };
}

const msg = (id: string) => `<message from='a@peer.test' to='b@edge.test' id='${id}'><body>${id}</body></message>`;

describe("batched framing from the gateway", () => {
  it("is agreed only when the gateway asks for it, with its token", async () => {
    const asked = await upgrade(gateway("batched"));
    expect(asked.status).toBe(101);
    expect(asked.headers.get("x-edge-framing")).toBe("batched");
    asked.webSocket!.accept();
    asked.webSocket!.close(1000);
    const plain = await upgrade(gateway());
    expect(plain.status).toBe(101);
    expect(plain.headers.get("x-edge-framing")).toBeNull();
    plain.webSocket!.accept();
    plain.webSocket!.close(1000);
    // Without the token the connection header (framing included) is refused outright.
    const spoofed = await upgrade({ ...gateway("batched"), "x-edge-gateway-token": "wrong-token-wrong-token-xx" });
    expect(spoofed.status).toBe(403);
  });

  it("dialback and then several stanzas in one message: all delivered, in order", async () => {
    const { link } = await batchedSession();
    link.ws.send([msg("bt-1"), msg("bt-2"), msg("bt-3")].join(""));
    expect(await appInbox((x) => x.includes('id="bt-3"'))).toBeDefined();
    const res = await SELF.fetch("https://edge.test/api/v1/inbox?limit=10", { headers: { authorization: "Bearer test-app-token-0123456789ab" } });
    const ids = (await res.json<{ items: { xml: string }[] }>()).items.map((i) => /id="(bt-\d)"/.exec(i.xml)?.[1]).filter(Boolean);
    expect(ids.reverse()).toEqual(["bt-1", "bt-2", "bt-3"]);
    link.ws.close(1000);
  });

  it("survives eviction: the next batched message is read as before", async () => {
    const { link, stub } = await batchedSession();
    await evictDurableObject(stub);
    // The restarted instance primes a batched reader with the <open/> it kept (codec.ts; unit-tested
    // with a declared prefix in test/unit/session-codec.test.ts).
    link.ws.send(msg("bt-evict-1") + msg("bt-evict-2"));
    expect(await appInbox((x) => x.includes('id="bt-evict-2"'))).toContain("<body>bt-evict-2</body>");
    expect(await appInbox((x) => x.includes('id="bt-evict-1"'))).toBeDefined();
    expect(link.fromEdge.some((f) => /<(stream:)?error[ >]/.test(f))).toBe(false);
    link.ws.close(1000);
  });

  it("a message that ends inside an element ends the stream with not-well-formed; the stanzas before it are delivered", async () => {
    const { link } = await batchedSession();
    link.ws.send(msg("bt-before") + "<message from='a@peer.test' to='b@edge.test'><body>cut");
    const deadline = Date.now() + 5000;
    while (!link.fromEdge.some((f) => f.includes("not-well-formed")) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    expect(link.fromEdge.find((f) => /<(stream:)?error[ >]/.test(f))).toContain("not-well-formed");
    expect(await appInbox((x) => x.includes('id="bt-before"'))).toBeDefined();
    await link.closed;
  });
});
