// Issue 11 items 1-2: verification pooled per authority ADDRESS (XEP-0220 §3). The harness serves
// peer.test and every *.pool.test at one address (127.0.0.1, its S2S port): peer.test through a static
// route, the pool.test domains through SRV answers from its DoH endpoint. However many sender domains
// claim at once, on however many streams, the edge opens one verification connection to that address
// and multiplexes every db:verify on it; only a domain the authority will not verify on that stream
// (item-not-found) gets a link of its own.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { harness, stats, uplink, waitJob, type Uplink } from "../harness/bridge.js";
import type { Job } from "../harness/peer.js";
import { closeUplinks, peerAuthorityLink, srvToHarness } from "./helpers.js";

const N = 20;
const links: Uplink[] = [];

async function claim(from: string): Promise<Job> {
  const job = await harness<Job>("POST", "/jobs", { kind: "originate", from, to: "edge.test", stanzas: [] });
  links.push(await uplink(job.id));
  return waitJob(job.id, ["sent", "refused", "closed"]);
}

beforeAll(async () => {
  await harness("POST", "/reset");
  await harness("POST", "/config", { servesSubdomainsOf: "pool.test" });
});

afterAll(() => closeUplinks(links));

describe("verification pooled per authority address", () => {
  it(`${N} sender domains claimed at once on ${N} streams: one verification connection`, async () => {
    const domains = Array.from({ length: N }, (_, i) => `v${i}.pool.test`);
    await srvToHarness(domains);
    const before = await peerAuthorityLink().connections();
    const results = await Promise.all([...domains, "peer.test"].map((d) => claim(d)));
    for (const r of results) expect(r.result).toEqual({ type: "valid" });
    const s = await stats();
    expect(s.verifyRequests).toBe(N + 1);
    // One TCP connection reached the harness: the pooled link (the claims came over WebSocket uplinks).
    expect(s.tcpAccepted).toBe(1);
    expect((await peerAuthorityLink().connections()) - before).toBe(1);
  });

  it("a domain the authority will not verify on the pooled stream (item-not-found) falls back to a link of its own", async () => {
    // From now on the harness answers only for the domain its stream header named.
    await harness("POST", "/config", { strictTo: true });
    await srvToHarness(["own1.pool.test", "own2.pool.test"]);
    const before = (await stats()).tcpAccepted;
    expect((await claim("own1.pool.test")).result).toEqual({ type: "valid" });
    expect((await claim("own2.pool.test")).result).toEqual({ type: "valid" });
    // Each asked on the pooled stream first (item-not-found), then on its own connection.
    expect((await stats()).tcpAccepted - before).toBe(2);
    // A second claim for a domain known to need its own link goes there directly.
    const verifies = (await stats()).verifyRequests;
    expect((await claim("own1.pool.test")).result).toEqual({ type: "valid" });
    expect((await stats()).verifyRequests - verifies).toBe(1);
    expect((await stats()).tcpAccepted - before).toBe(2);
  });

  it(`an authority that advertises no dialback errors (Prosody 0.12) is multiplexed too: ${N} domains, one connection`, async () => {
    await harness("POST", "/config", { strictTo: false, offerDialbackErrors: false });
    // A fresh pooled stream, so the features it reads are the ones without <errors/>.
    await peerAuthorityLink().closeStream("system-shutdown");
    const domains = Array.from({ length: N }, (_, i) => `e${i}.pool.test`);
    await srvToHarness(domains);
    const before = (await stats()).tcpAccepted;
    const results = await Promise.all(domains.map((d) => claim(d)));
    for (const r of results) expect(r.result).toEqual({ type: "valid" });
    expect((await stats()).tcpAccepted - before).toBe(1);
    await harness("POST", "/config", { offerDialbackErrors: true });
  });
});
