// Hibernation/eviction invisible to the peer, and every failure path ending in a bounce the
// application can see (issue 4, "Done when").
import { env, evictDurableObject, runInDurableObject, SELF } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import type { RemoteDomain } from "../../durable-objects/remote-domain.js";
import { harness, inbox, stats, uplink, waitJob } from "../harness/bridge.js";
import type { Job } from "../harness/peer.js";
import { APP, appInbox, peerDomain } from "./helpers.js";

const send = (xml: string) => SELF.fetch("https://edge.test/api/v1/stanzas", { method: "POST", headers: APP, body: xml });

beforeEach(async () => {
  await harness("POST", "/reset");
  // The harness dropped its connections; wait until the edge's outbound stream has noticed.
  const deadline = Date.now() + 3000;
  while ((await peerDomain().describe()) !== null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
});

describe("eviction", () => {
  it("an inbound WebSocket session evicted mid-stream resumes from SQLite: the verified pair still works", async () => {
    const job = await harness<Job>("POST", "/jobs", { kind: "originate", to: "edge.test", stanzas: [] });
    const link = await uplink(job.id);
    expect((await waitJob(job.id, ["sent", "refused", "closed"])).result).toEqual({ type: "valid" });
    const streamId = /id=['"]([0-9a-f]{32})['"]/.exec(link.fromEdge[0]!)![1]!;
    const stub = env.STREAM_SESSION.get(env.STREAM_SESSION.idFromName(streamId));
    expect((await stub.describe())?.pairs).toEqual([{ local: "edge.test", remote: "peer.test", direction: "inbound", state: "valid" }]);

    await evictDurableObject(stub); // hibernates the WebSocket; in-memory state is gone
    await harness("POST", `/jobs/${job.id}/send`, { xml: "<message from='alice@peer.test' to='bob@edge.test' id='after-evict'><body>still here</body></message>" });
    expect(await appInbox((x) => x.includes('id="after-evict"'))).toContain("still here");
    const d = await stub.describe();
    expect(d).toMatchObject({ id: streamId, direction: "inbound", transport: "websocket", streamId, peer: "peer.test", local: "edge.test" });
    link.ws.close(1000);
  });

  it("webSocketClose ends the session: describe() reports it gone", async () => {
    const job = await harness<Job>("POST", "/jobs", { kind: "originate", to: "edge.test", stanzas: [] });
    const link = await uplink(job.id);
    await waitJob(job.id, ["sent"]);
    const streamId = /id=['"]([0-9a-f]{32})['"]/.exec(link.fromEdge[0]!)![1]!;
    const stub = env.STREAM_SESSION.get(env.STREAM_SESSION.idFromName(streamId));
    link.ws.close(1000, "bye");
    const deadline = Date.now() + 3000;
    while ((await stub.describe()) !== null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await stub.describe()).toBeNull();
  });
});

describe("failure paths bounce to the application", () => {
  it("no connection to the peer: remote-server-not-found", async () => {
    expect((await send("<message from='app@edge.test' to='x@unreachable.test' id='b-dns'><body>x</body></message>")).status).toBe(202);
    const b = await appInbox((x) => x.includes('id="b-dns"'));
    expect(b).toContain('type="error"');
    expect(b).toContain("<remote-server-not-found");
    expect(b).toContain('from="x@unreachable.test"');
  });

  it("'.' SRV target (RFC 2782 no service): remote-server-not-found", async () => {
    await harness("POST", "/dns", { "_xmpp-server._tcp.noservice.test": ["0 0 0 ."], "_xmpps-server._tcp.noservice.test": ["0 0 0 ."] });
    await send("<message from='app@edge.test' to='x@noservice.test' id='b-dot'><body>x</body></message>");
    expect(await appInbox((x) => x.includes('id="b-dot"'))).toContain("<remote-server-not-found");
  });

  it("the peer says type='invalid': internal-server-error (seed 001)", async () => {
    await harness("POST", "/config", { verify: "invalid" });
    await send("<message from='app@edge.test' to='c@peer.test' id='b-invalid'><body>x</body></message>");
    const b = await appInbox((x) => x.includes('id="b-invalid"'));
    expect(b).toContain("<internal-server-error");
  });

  it("the peer answers a dialback error: remote-server-timeout (XEP-0220 §2.4)", async () => {
    await harness("POST", "/config", { verify: "error", errorCondition: "remote-connection-failed" });
    await send("<message from='app@edge.test' to='c@peer.test' id='b-dberr'><body>x</body></message>");
    expect(await appInbox((x) => x.includes('id="b-dberr"'))).toContain("<remote-server-timeout");
  });

  it("the peer never answers: the alarm expires the dialback, remote-server-timeout", async () => {
    await harness("POST", "/config", { verify: "silent" });
    await send("<message from='app@edge.test' to='c@peer.test' id='b-silent'><body>x</body></message>");
    await stats("dbResults", 1);
    await runInDurableObject(peerDomain(), (d: RemoteDomain) => d.alarmAt(Date.now() + 10 * 60_000 - 1000));
    expect(await appInbox((x) => x.includes('id="b-silent"'))).toContain("<remote-server-timeout");
  });

  it("the edge refuses a forged key from a WebSocket peer: the authority says invalid", async () => {
    const job = await harness<Job>("POST", "/jobs", { kind: "originate", to: "edge.test", from: "peer.test", stanzas: [] });
    // Same domain, a key made with the wrong secret: what a spoofer can do.
    await harness("POST", "/config", { forgeKeys: true });
    const link = await uplink(job.id);
    const done = await waitJob(job.id, ["sent", "refused", "closed"]);
    expect(done.state).toBe("refused");
    // The harness advertised dialback errors: the edge keeps the stream, error 'forbidden' (seed 001).
    expect(done.result).toEqual({ type: "error", condition: "forbidden" });
    link.ws.close(1000);
  });

  it("the edge cannot reach the claimed sender's authority: dialback error remote-server-not-found", async () => {
    // The harness claims unreachable.test, whose static route leads nowhere.
    const job = await harness<Job>("POST", "/jobs", { kind: "originate", from: "unreachable.test", to: "edge.test", stanzas: [] });
    const link = await uplink(job.id);
    const done = await waitJob(job.id, ["sent", "refused", "closed"]);
    expect(done.result).toEqual({ type: "error", condition: "remote-server-not-found" });
    link.ws.close(1000);
  });

  it("the authority's connection is lost with a verification pending: the request fails with a dialback error", async () => {
    await harness("POST", "/config", { ignoreVerify: true });
    const job = await harness<Job>("POST", "/jobs", { kind: "originate", to: "edge.test", stanzas: [] });
    const link = await uplink(job.id);
    await stats("verifyRequests", 1);
    await harness("POST", "/drop?tcpOnly=1"); // the pooled verification stream dies
    const done = await waitJob(job.id, ["sent", "refused", "closed"]);
    expect(done.state).toBe("refused");
    // XEP-0220 §2.4: the authority went away mid-request.
    expect(done.result).toEqual({ type: "error", condition: "remote-server-timeout" });
    link.ws.close(1000);
  });
});
