// Issue 10.3: XEP-0288 routes exist only for verified pairs. 300 bidi streams each claiming the
// victim's domain (refused with forbidden, kept open) made every API stanza to that domain go through
// 300 sequential RPCs. Now a stream announces a route to peer.test's RemoteDomain only once
// peer.test -> edge.test is verified on it, and withdraws it when the pair is revoked or the stream
// ends; the RemoteDomain offers a stanza to one route only (unit: test/unit/bidi-routes.test.ts).
import { beforeEach, describe, expect, it } from "vitest";
import { harness, inbox, stats, uplink, waitJob, type Uplink } from "../harness/bridge.js";
import type { Job } from "../harness/peer.js";
import { APP, admin, peerDomain } from "./helpers.js";
import { SELF } from "cloudflare:test";

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** peer.test opens a bidi stream to edge.test and asks for peer.test -> edge.test. */
async function bidiClaim(): Promise<{ job: Job; link: Uplink }> {
  const job = await harness<Job>("POST", "/jobs", { kind: "originate", to: "edge.test", requestBidi: true, stanzas: [] });
  return { job, link: await uplink(job.id) };
}

const sessionOf = (link: Uplink) => /id=['"]([0-9a-f]{32})['"]/.exec(link.fromEdge.join(""))![1]!;

beforeEach(async () => {
  await harness("POST", "/reset");
});

describe("bidi routes only for verified pairs (issue 10.3)", () => {
  it("refused and pending claims announce no route; the verified stream does, and only it carries the stanza", async () => {
    // Three spoofers: keys from a wrong secret, the authority (the harness) says invalid -> forbidden.
    await harness("POST", "/config", { forgeKeys: true });
    const refused: Uplink[] = [];
    for (let i = 0; i < 3; i++) {
      const { job, link } = await bidiClaim();
      const done = await waitJob(job.id, ["sent", "refused", "closed"]);
      expect(done.result).toEqual({ type: "error", condition: "forbidden" });
      expect(done.bidi).toBe(true);
      refused.push(link);
    }
    // One claim left pending: the authority never answers the edge's db:verify.
    await harness("POST", "/config", { forgeKeys: false, ignoreVerify: true });
    const before = (await stats()).verifyRequests;
    const pending = await bidiClaim();
    await stats("verifyRequests", before + 1);
    // A real peer.test, verified.
    await harness("POST", "/config", { ignoreVerify: false, verify: "valid" });
    const good = await bidiClaim();
    expect((await waitJob(good.job.id, ["sent", "refused", "closed"])).result).toEqual({ type: "valid" });
    const session = sessionOf(good.link);
    // The route exists by the time the peer reads type='valid' (announced before it is written).
    expect(await peerDomain().bidiRoutes()).toEqual([session]);
    // None of the four unverified streams is a route, though all are still open.
    for (const l of [...refused, pending.link]) expect(l.ws.readyState).toBe(WebSocket.OPEN);

    const res = await SELF.fetch("https://edge.test/api/v1/stanzas", {
      method: "POST", headers: APP,
      body: "<message from='app@edge.test' to='carol@peer.test' id='route-1'><body>one route</body></message>",
    });
    expect(res.status).toBe(202);
    expect((await inbox(1)).items.some((x) => x.includes('id="route-1"'))).toBe(true);
    expect(good.link.fromEdge.some((f) => f.includes("route-1"))).toBe(true);
    for (const l of [...refused, pending.link]) expect(l.fromEdge.some((f) => f.includes("route-1"))).toBe(false);

    for (const l of [...refused, pending.link, good.link]) l.ws.close(1000);
    await until(() => peerDomain().bidiRoutes(), (r) => r.length === 0);
    expect(await peerDomain().bidiRoutes()).toEqual([]);
  });

  it("revoking the pair (admin DELETE /pairs) removes its route", async () => {
    await harness("POST", "/config", { verify: "valid" });
    const { job, link } = await bidiClaim();
    expect((await waitJob(job.id, ["sent", "refused", "closed"])).result).toEqual({ type: "valid" });
    expect(await peerDomain().bidiRoutes()).toEqual([sessionOf(link)]);
    expect((await admin("/pairs/edge.test/peer.test", { method: "DELETE" })).status).toBeLessThan(300);
    expect(await until(() => peerDomain().bidiRoutes(), (r) => r.length === 0)).toEqual([]);
    link.ws.close(1000);
  });
});
