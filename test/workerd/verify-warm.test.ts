// Issue 11.6: a receiving stream's header names the sender domain before its db:result can arrive,
// so the edge opens the pooled link to that domain's authority then (lib/verify-path.ts
// warmAuthority): the verification connection exists before the claim, and the claim's db:verify
// goes out on it. The harness serves *.warm.test at its S2S address (SRV from its DoH endpoint).
import { env, SELF } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { AuthorityLink } from "../../durable-objects/authority-link.js";
import { harness, stats, uplink, waitJob, type Uplink } from "../harness/bridge.js";
import type { Job } from "../harness/peer.js";
import { admin, closeUplinks, peerAuthorityLink, srvToHarness } from "./helpers.js";

const links: Uplink[] = [];
const sockets: WebSocket[] = [];

const open = (from: string, to = "edge.test") =>
  `<open xmlns='urn:ietf:params:xml:ns:xmpp-framing-server' xmlns:db='jabber:server:dialback' from='${from}' to='${to}' version='1.0'/>`;

/** A raw WebSocket stream that sends only its header; resolves once the edge's features arrived. */
async function headerOnly(header: string): Promise<void> {
  const res = await SELF.fetch("https://edge.test/xmpp-s2s", { headers: { upgrade: "websocket", "sec-websocket-protocol": "xmpp" } });
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  ws.accept();
  sockets.push(ws);
  const features = new Promise<void>((resolve) => ws.addEventListener("message", (e) => String(e.data).includes("features") && resolve()));
  ws.send(header);
  await features;
}

/** The harness's accepted connections once they reach `n` (or 5 s passed: the assertion then fails). */
const acceptedReaching = async (n: number) => (await stats("tcpAccepted", n, 5000)).tcpAccepted;

/** Connections the harness accepted once `ms` passed with nothing more expected. */
async function acceptedAfter(ms: number): Promise<number> {
  await new Promise((r) => setTimeout(r, ms));
  return (await stats()).tcpAccepted;
}

beforeAll(async () => {
  await harness("POST", "/reset");
  await harness("POST", "/config", { servesSubdomainsOf: "warm.test" });
  await srvToHarness(["a.warm.test", "b.warm.test", "c.warm.test", "d.warm.test"]);
  // No pooled link to the harness's address left from an earlier file.
  await peerAuthorityLink().closeStream("system-shutdown");
});

afterAll(async () => {
  for (const ws of sockets) ws.close(1000);
  await closeUplinks(links);
  await admin("/policy/domains/c.warm.test", { method: "DELETE" });
});

describe("the verification link is opened at the peer's stream header (issue 11.6)", () => {
  it("a header naming a sender domain opens the connection to its authority before any db:result", async () => {
    const before = (await stats()).tcpAccepted;
    await headerOnly(open("a.warm.test"));
    // The edge dialled the harness's S2S port (the authority) though no claim was made.
    expect(await acceptedReaching(before + 1)).toBe(before + 1);
    expect((await stats()).verifyRequests).toBe(0);
  });

  it("the claim that follows is verified on that connection: none is opened for it", async () => {
    const before = (await stats()).tcpAccepted;
    const job = await harness<Job>("POST", "/jobs", { kind: "originate", from: "b.warm.test", to: "edge.test", stanzas: [] });
    links.push(await uplink(job.id));
    expect((await waitJob(job.id, ["sent", "refused", "closed"])).result).toEqual({ type: "valid" });
    expect((await stats()).verifyRequests).toBe(1);
    // The uplink is a WebSocket (no TCP accept); the pooled link was already open.
    expect(await acceptedAfter(200)).toBe(before);
  });

  it("the claim takes the header warm-up's place in the verification budget: one admission and one token per pair", async () => {
    const budget = env.VERIFY_BUDGET.get(env.VERIFY_BUDGET.idFromName("budget"));
    const before = (await budget.usage()).bound;
    const job = await harness<Job>("POST", "/jobs", { kind: "originate", from: "d.warm.test", to: "edge.test", stanzas: [] });
    links.push(await uplink(job.id));
    expect((await waitJob(job.id, ["sent", "refused", "closed"])).result).toEqual({ type: "valid" });
    // The header's warm-up bound one verification to the authority's address; the claim used it.
    expect((await budget.usage()).bound - before).toBe(1);
  });

  it("a header for an authority whose link answered moments ago costs no call to the link's DO", async () => {
    // The claims above were verified on the pooled link: this isolate knows it is up (lib/links-up.ts).
    const warm = vi.spyOn(AuthorityLink.prototype, "warm");
    const budget = env.VERIFY_BUDGET.get(env.VERIFY_BUDGET.idFromName("budget"));
    const before = (await budget.usage()).bound;
    const accepted = (await stats()).tcpAccepted;
    await headerOnly(open("a.warm.test"));
    // The warm-up still took its lease (bound to the address)...
    const deadline = Date.now() + 5000;
    while ((await budget.usage()).bound === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect((await budget.usage()).bound - before).toBe(1);
    // ...but asked nothing of the link, and no connection was made.
    expect(await acceptedAfter(200)).toBe(accepted);
    expect(warm).not.toHaveBeenCalled();
    warm.mockRestore();
  });

  it("no connection for a header whose sender policy refuses, names one of our domains, or names no sender", async () => {
    await peerAuthorityLink().closeStream("system-shutdown");
    expect((await admin("/policy/domains/c.warm.test", { method: "PUT", json: { action: "deny" } })).status).toBeLessThan(300);
    const before = (await stats()).tcpAccepted;
    await headerOnly(open("c.warm.test"));
    await headerOnly(open("edge.test"));
    await headerOnly("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing-server' xmlns:db='jabber:server:dialback' to='edge.test' version='1.0'/>");
    expect(await acceptedAfter(500)).toBe(before);
    // A header that may warm still does (the checks above are not simply too slow to be seen).
    await headerOnly(open("a.warm.test"));
    expect(await acceptedReaching(before + 1)).toBe(before + 1);
  });
});
