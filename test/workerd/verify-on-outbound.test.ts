// Issue 11.6: a claim from a domain we already have an outbound stream to is verified on that stream
// (XEP-0220 §2.1.2 step 2 over our existing connection to its server), not on a new connection. The
// order is Prosody's when the edge sends first: our stream to it carries our db:result, Prosody dials
// back and claims its own domain there before it verifies our key, and that claim's db:verify can go
// out at once on the stream we have instead of after a TCP handshake and a stream header exchange.
import { SELF } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { harness, inbox, stats, uplink, waitJob, type Uplink } from "../harness/bridge.js";
import type { Job } from "../harness/peer.js";
import { APP, closeUplinks, peerAuthorityLink, peerDomain } from "./helpers.js";

const links: Uplink[] = [];

beforeAll(async () => {
  await harness("POST", "/reset");
  await peerAuthorityLink().closeStream("system-shutdown");
});

afterAll(() => closeUplinks(links));

describe("verification on our outbound stream (issue 11.6)", () => {
  it("a claim from peer.test while our stream to peer.test is up opens no connection", async () => {
    // The harness's dial-back stream, then a stanza from the app: our outbound stream to peer.test.
    const auth = await harness<Job>("POST", "/jobs", { kind: "authority", to: "edge.test" });
    links.push(await uplink(auth.id));
    await waitJob(auth.id, ["ready"]);
    const sent = await SELF.fetch("https://edge.test/api/v1/stanzas", {
      method: "POST", headers: APP, body: "<message from='app@edge.test' to='t@peer.test' id='out-1'><body>out</body></message>",
    });
    expect(sent.status).toBe(202);
    expect((await inbox(1)).items[0]).toContain('id="out-1"');
    expect(await peerDomain().describe()).not.toBeNull();
    // No pooled verification link is up (the dial-back stream's header may have warmed one).
    await peerAuthorityLink().closeStream("system-shutdown");

    const before = await stats();
    const job = await harness<Job>("POST", "/jobs", { kind: "originate", from: "peer.test", to: "edge.test", stanzas: [] });
    links.push(await uplink(job.id));
    expect((await waitJob(job.id, ["sent", "refused", "closed"])).result).toEqual({ type: "valid" });
    const after = await stats();
    expect(after.verifyRequests - before.verifyRequests).toBe(1);
    // The claim came over a WebSocket uplink; its db:verify went over our existing TCP stream.
    expect(after.tcpAccepted - before.tcpAccepted).toBe(0);
  });
});
