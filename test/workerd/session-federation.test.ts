// The edge federating with an independent peer (test/harness) over real sockets: the harness dials
// the edge's /xmpp-s2s WebSocket (XEP-0468), and the edge dials the harness over TCP with connect().
import { env, SELF } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { harness, inbox, stats, uplink, waitJob, type Uplink } from "../harness/bridge.js";
import type { Job } from "../harness/peer.js";
import { APP, peerAuthorityLink } from "./helpers.js";

async function appInbox(predicate: (xml: string) => boolean, ms = 5000): Promise<string[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const res = await SELF.fetch("https://edge.test/api/v1/inbox?limit=50", { headers: APP });
    const items = (await res.json<{ items: { xml: string }[] }>()).items.map((i) => i.xml);
    if (items.some(predicate) || Date.now() > deadline) return items;
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeEach(async () => {
  await harness("POST", "/reset");
});

describe("inbound WebSocket S2S (harness originates, edge receives and verifies)", () => {
  it("verifies the harness's key with its authority over TCP and delivers the stanza to the app", async () => {
    const job = await harness<Job>("POST", "/jobs", {
      kind: "originate", to: "edge.test",
      stanzas: ["<message from='alice@peer.test' to='bob@edge.test' id='ws1'><body>over websocket</body></message>"],
    });
    const link = await uplink(job.id);
    const done = await waitJob(job.id, ["sent", "refused", "closed"]);
    expect(done.result).toEqual({ type: "valid" });
    expect(done.state).toBe("sent");
    // The edge, as Receiving Server, asked peer.test's Authoritative Server (XEP-0220 §2.1.2).
    expect((await stats()).verifyRequests).toBe(1);
    const items = await appInbox((x) => x.includes("id=\"ws1\""));
    expect(items.some((x) => x.includes("over websocket"))).toBe(true);
    // RFC 7395 framing on the wire from the edge: <open/> with the server framing namespace, an id.
    expect(link.fromEdge[0]).toMatch(/^<open xmlns=['"]urn:ietf:params:xml:ns:xmpp-framing-server['"][^>]* id=['"][0-9a-f]{32}['"]/);
    link.ws.close(1000);
  });
});

describe("pooled verification stream (seed 000)", () => {
  it("multiplexes a second verification against the same authority on the open stream", async () => {
    // The link pooled for peer.test's authority address (durable-objects/authority-link.ts).
    const peer = peerAuthorityLink();
    const links: Uplink[] = [];
    const originate = async (id: string) => {
      const job = await harness<Job>("POST", "/jobs", {
        kind: "originate", to: "edge.test",
        stanzas: [`<message from='alice@peer.test' to='bob@edge.test' id='${id}'><body>pooled</body></message>`],
      });
      links.push(await uplink(job.id));
      expect((await waitJob(job.id, ["sent", "refused", "closed"])).result).toEqual({ type: "valid" });
    };
    await originate("p1");
    const before = { ...(await stats()), connections: await peer.connections() };
    await originate("p2");
    await originate("p3");
    const after = { ...(await stats()), connections: await peer.connections() };
    expect(after.verifyRequests - before.verifyRequests).toBe(2);
    // Two more verifications, no new connection: both went over the pooled stream.
    expect(after.tcpAccepted - before.tcpAccepted).toBe(0);
    expect(after.connections - before.connections).toBe(0);
    for (const l of links) l.ws.close(1000);
  });
});

describe("outbound TCP (edge originates with connect(), harness receives)", () => {
  it("sends an API stanza: connect, stream, dialback verified by the edge's authority over WebSocket", async () => {
    // The harness verifies the edge's key by asking the edge's authority over /xmpp-s2s.
    const auth = await harness<Job>("POST", "/jobs", { kind: "authority", to: "edge.test" });
    const authLink = await uplink(auth.id);
    await waitJob(auth.id, ["ready"]);
    const res = await SELF.fetch("https://edge.test/api/v1/stanzas", {
      method: "POST", headers: APP,
      body: "<message from='app@edge.test' to='carol@peer.test' id='out1'><body>over tcp</body></message>",
    });
    expect(res.status).toBe(202);
    const { items } = await inbox(1);
    expect(items[0]).toContain("over tcp");
    expect(items[0]).toContain('id="out1"');
    const s = await stats();
    expect(s.dbResults).toBe(1);
    authLink.ws.close(1000);
  });
});
