// Stream features end to end: XEP-0288 bidi on an inbound WebSocket, replies without bidi over the
// outbound TCP stream, the gateway's connection facts, the 15-minute socket recycle, and an outbound
// stream evicted with a stanza still queued.
import { abortAllDurableObjects, env, runInDurableObject, SELF } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import type { RemoteDomain } from "../../durable-objects/remote-domain.js";
import { harness, inbox, stats, uplink, waitJob } from "../harness/bridge.js";
import type { Job } from "../harness/peer.js";
import { APP, peerDomain } from "./helpers.js";

const ping = (id: string) => `<iq type='get' id='${id}' from='peer.test' to='edge.test'><ping xmlns='urn:xmpp:ping'/></iq>`;

beforeEach(async () => {
  await harness("POST", "/reset");
  const deadline = Date.now() + 3000;
  while ((await peerDomain().describe()) !== null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
});

async function authorityLink() {
  const auth = await harness<Job>("POST", "/jobs", { kind: "authority", to: "edge.test" });
  const link = await uplink(auth.id);
  await waitJob(auth.id, ["ready"]);
  return link;
}

describe("replies from the local app", () => {
  it("with XEP-0288 bidi: the ping result comes back on the same WebSocket stream", async () => {
    const job = await harness<Job>("POST", "/jobs", { kind: "originate", to: "edge.test", requestBidi: true, stanzas: [ping("bidi-ping")] });
    const link = await uplink(job.id);
    expect((await waitJob(job.id, ["sent", "refused", "closed"])).bidi).toBe(true);
    const { items } = await inbox(1);
    expect(items[0]).toMatch(/<iq [^>]*type="result"[^>]*id="bidi-ping"|<iq [^>]*id="bidi-ping"[^>]*type="result"/);
    // It came over the WebSocket: the edge never dialled peer.test.
    expect((await stats()).dbResults).toBe(0);
    link.ws.close(1000);
  });

  it("without bidi: the result goes over the edge's outbound TCP stream, after dialback", async () => {
    const auth = await authorityLink();
    const job = await harness<Job>("POST", "/jobs", { kind: "originate", to: "edge.test", stanzas: [ping("tcp-ping")] });
    const link = await uplink(job.id);
    await waitJob(job.id, ["sent"]);
    const { items } = await inbox(1);
    expect(items[0]).toContain('id="tcp-ping"');
    expect(items[0]).toContain('type="result"');
    expect((await stats()).dbResults).toBe(1);
    link.ws.close(1000);
    auth.ws.close(1000);
  });
});

describe("the TCP ingress gateway's connection facts", () => {
  it("are believed with the token: the session reports transport gateway and TLS", async () => {
    const job = await harness<Job>("POST", "/jobs", { kind: "originate", to: "edge.test", stanzas: [] });
    const link = await uplink(job.id, {
      "x-edge-gateway-token": "test-gateway-token-012345678",
      "x-edge-connection": JSON.stringify({ peer: "192.0.2.7:40000", tls: { version: "TLSv1.3", cipher: "TLS_AES_128_GCM_SHA256" } }),
    });
    await waitJob(job.id, ["sent"]);
    const streamId = /id=['"]([0-9a-f]{32})['"]/.exec(link.fromEdge[0]!)![1]!;
    const d = await env.STREAM_SESSION.get(env.STREAM_SESSION.idFromName(streamId)).describe();
    expect(d).toMatchObject({ transport: "gateway", tls: true, peer: "peer.test" });
    link.ws.close(1000);
  });
});

describe("outbound stream lifetime", () => {
  it("recycles the socket before the 15-minute limit and reconnects transparently on the next stanza", async () => {
    const auth = await authorityLink();
    const send = (id: string) => SELF.fetch("https://edge.test/api/v1/stanzas", {
      method: "POST", headers: APP, body: `<message from='app@edge.test' to='d@peer.test' id='${id}'><body>${id}</body></message>`,
    });
    await send("before-recycle");
    await inbox(1);
    const connections = await peerDomain().connections();
    await runInDurableObject(peerDomain(), (d: RemoteDomain) => d.alarmAt(Date.now() + 14 * 60_000 + 1));
    expect(await peerDomain().describe()).toBeNull();
    await send("after-recycle");
    const { items } = await inbox(2);
    expect(items[1]).toContain("after-recycle");
    expect(await peerDomain().connections()).toBe(connections + 1);
    auth.ws.close(1000);
  });

  it("an outbound DO that dies with a stanza waiting for dialback sends it after reconnecting", async () => {
    await harness("POST", "/config", { verify: "silent" });
    await SELF.fetch("https://edge.test/api/v1/stanzas", {
      method: "POST", headers: APP, body: "<message from='app@edge.test' to='e@peer.test' id='survivor'><body>queued</body></message>",
    });
    await stats("dbResults", 1);
    // An open socket keeps a DO from a graceful eviction; what ends it in production is the platform
    // (the 15-minute limit, a restart): abort it, which drops memory and the socket, keeps SQLite.
    await abortAllDurableObjects();
    await harness("POST", "/config", { verify: "authority" });
    const auth = await authorityLink();
    expect(await peerDomain().queued()).toBeGreaterThanOrEqual(0); // wakes it: the constructor requeues and reconnects
    const { items } = await inbox(1);
    expect(items[0]).toContain('id="survivor"');
    auth.ws.close(1000);
  });
});
