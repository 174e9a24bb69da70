// XEP-0288 reverse dialback on the edge's OUTBOUND stream: the peer authenticates its own domain to
// us there (db:result). Its key must be verified with the peer's Authoritative Server on another
// connection (XEP-0220 §4, XEP-0288 §2.1): the verification link pooled for the peer's authority
// address (AuthorityLink) carries it; the stanza the peer then sends on the outbound stream reaches
// the application only after type='valid'.
// The peer authenticates peer.test -> chat.edge.test, not the inverse of the pair the edge verified
// (edge.test -> peer.test), so nothing but the reverse dialback lets that stanza through.
import { beforeEach, describe, expect, it } from "vitest";
import { harness, inbox, stats } from "../harness/bridge.js";
import type { ReverseState } from "../harness/peer.js";
import { APP, admin, appInbox, peerAuthority, peerAuthorityLink, peerDomain } from "./helpers.js";
import { runInDurableObject, SELF } from "cloudflare:test";
import type { RemoteDomain } from "../../durable-objects/remote-domain.js";
import type { AuthorityLink } from "../../durable-objects/authority-link.js";
import { IDLE_MS } from "../../durable-objects/lib/outbound.js";

const reverse = (id: string) => `<message from='alice@peer.test' to='bob@chat.edge.test' id='${id}'><body>back to you</body></message>`;

async function openOutbound(id: string): Promise<void> {
  const res = await SELF.fetch("https://edge.test/api/v1/stanzas", {
    method: "POST", headers: APP,
    body: `<message from='app@edge.test' to='carol@peer.test' id='${id}'><body>hello</body></message>`,
  });
  expect(res.status).toBe(202);
  // The edge's stream reached peer.test and carried the stanza (edge.test -> peer.test is valid).
  const { items } = await inbox(1);
  expect(items.some((x) => x.includes(`id="${id}"`))).toBe(true);
}

beforeEach(async () => {
  await harness("POST", "/reset");
});

describe("reverse dialback on the outbound bidi stream (XEP-0288 §2)", () => {
  it("verifies the peer's key on a separate connection to its authority, answers valid and delivers its stanza", async () => {
    await harness("POST", "/config", { verify: "valid", offerBidi: true, reverse: { stanza: reverse("rev-in"), to: "chat.edge.test" } });
    const before = { out: await peerDomain().connections(), verify: await peerAuthorityLink().connections() };
    await openOutbound("rev-out1");
    const rev = await harness<ReverseState>("GET", "/reverse?wait=10000");
    expect(rev.result).toEqual({ type: "valid" });
    // The db:verify came on a connection other than the one the key was sent on ...
    expect(rev.sentOn).toBeDefined();
    expect(rev.verifyOn.length).toBeGreaterThan(0);
    expect(rev.verifyOn).not.toContain(rev.sentOn);
    // ... which the edge opened: two connections to peer.test, the outbound stream and the link to its authority.
    expect((await stats()).tcpAccepted).toBe(2);
    expect(await peerDomain().connections()).toBe(before.out + 1);
    expect(await peerAuthorityLink().connections()).toBe(before.verify + 1);
    // The stanza the peer sent on the outbound stream after 'valid' reached the application.
    expect(await appInbox((x) => x.includes("rev-in") && x.includes("back to you"))).toBeDefined();
  });

  it("refuses a forged key (authority: invalid -> forbidden) and delivers nothing the peer sends for that pair", async () => {
    await harness("POST", "/config", { verify: "valid", offerBidi: true, reverse: { stanza: reverse("rev-forged"), forge: true, to: "chat.edge.test" } });
    await openOutbound("rev-out2");
    const rev = await harness<ReverseState>("GET", "/reverse?wait=10000");
    // The authority said invalid; with dialback errors offered the edge refuses with forbidden.
    expect(rev.result).toEqual({ type: "error", condition: "forbidden" });
    expect(rev.verifyOn.length).toBeGreaterThan(0);
    expect(rev.verifyOn).not.toContain(rev.sentOn);
    // The harness sent the stanza anyway: the edge must not hand it to the application.
    expect(await appInbox((x) => x.includes("rev-forged"), 1500)).toBeUndefined();
  });

  it("idle closes both the outbound stream and the authority link, and neither DO keeps an alarm", async () => {
    await harness("POST", "/config", { verify: "valid", offerBidi: true, reverse: { stanza: reverse("rev-idle"), to: "chat.edge.test" } });
    await openOutbound("rev-out3");
    expect((await harness<ReverseState>("GET", "/reverse?wait=10000")).result).toEqual({ type: "valid" });
    expect(await appInbox((x) => x.includes("rev-idle"))).toBeDefined();
    for (const stub of [peerDomain(), peerAuthorityLink()] as const) {
      const alarm = await runInDurableObject(stub, (_d, state) => state.storage.getAlarm());
      expect(alarm).not.toBeNull();
      expect(alarm!).toBeLessThanOrEqual(Date.now() + IDLE_MS);
    }
    await runInDurableObject(peerDomain(), (d: RemoteDomain) => d.alarmAt(Date.now() + IDLE_MS + 1000));
    await runInDurableObject(peerAuthorityLink(), (d: AuthorityLink) => d.alarmAt(Date.now() + IDLE_MS + 1000));
    // Both links closed (RFC 6120 §4.4) and withdrew their wake-ups: nothing keeps an alarm.
    for (const stub of [peerDomain(), peerAuthorityLink()] as const) {
      const deadline = Date.now() + 5000;
      let left = await runInDurableObject(stub, (_d, state) => state.storage.getAlarm());
      while (left !== null && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        left = await runInDurableObject(stub, (_d, state) => state.storage.getAlarm());
      }
      expect(left).toBeNull();
      expect(await stub.describe()).toBeNull();
    }
  });

  it("the admin API sees the verification link as session authority:<address>, and DELETE closes that link, not the outbound stream", async () => {
    await harness("POST", "/config", { verify: "valid", offerBidi: true, reverse: { stanza: reverse("rev-admin"), to: "chat.edge.test" } });
    await openOutbound("rev-out5");
    expect((await harness<ReverseState>("GET", "/reverse?wait=10000")).result).toEqual({ type: "valid" });
    const sessionId = `authority:${peerAuthority()}`;
    const id = encodeURIComponent(sessionId);
    const got = await admin(`/sessions/${id}`);
    expect(got.status).toBe(200);
    expect(await got.json()).toMatchObject({ id: sessionId, direction: "outbound", peer: "peer.test" });
    expect((await admin(`/sessions/${id}?condition=system-shutdown`, { method: "DELETE" })).status).toBe(204);
    const deadline = Date.now() + 5000;
    while ((await peerAuthorityLink().describe()) !== null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    expect(await peerAuthorityLink().describe()).toBeNull();
    // The outbound stream itself is untouched.
    expect(await peerDomain().describe()).toMatchObject({ id: "remote:peer.test", peer: "peer.test" });
  });

  it("multiplexes keys that arrive together on the one authority link (no third connection)", async () => {
    await harness("POST", "/config", {
      verify: "valid", offerBidi: true,
      reverse: { stanza: reverse("rev-two"), to: "chat.edge.test", alsoTo: ["edge.test"] },
    });
    const before = (await peerDomain().connections()) + (await peerAuthorityLink().connections());
    await openOutbound("rev-out4");
    const rev = await harness<ReverseState>("GET", "/reverse?wait=10000");
    expect(rev.result).toEqual({ type: "valid" });
    const deadline = Date.now() + 5000;
    let also = rev.also;
    while (!also["edge.test"] && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      also = (await harness<ReverseState>("GET", "/reverse")).also;
    }
    expect(also).toEqual({ "edge.test": "valid" });
    const after = await harness<ReverseState>("GET", "/reverse");
    expect(after.verifyOn).toHaveLength(1);
    expect(after.verifyOn).not.toContain(after.sentOn);
    expect((await stats()).verifyRequests).toBe(2);
    expect((await stats()).tcpAccepted).toBe(2);
    expect((await peerDomain().connections()) + (await peerAuthorityLink().connections())).toBe(before + 2);
  });
});
