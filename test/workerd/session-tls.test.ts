// STARTTLS on the outbound stream against a peer whose certificate connect() cannot trust (self-signed,
// like many small servers): policy "verified" allows dialback without TLS, so the edge reconnects in
// plaintext and the stanza arrives; "encrypted" does not, and the stanza bounces.
import { SELF } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { harness, inbox, stats, uplink, waitJob } from "../harness/bridge.js";
import type { Job } from "../harness/peer.js";
import { APP, admin, appInbox, peerDomain, warmedLink } from "./helpers.js";

beforeEach(async () => {
  await harness("POST", "/reset");
  const deadline = Date.now() + 3000;
  while ((await peerDomain().describe()) !== null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await harness("POST", "/config", { offerStartTls: true });
});
afterEach(async () => {
  await admin("/policy/domains/peer.test", { method: "DELETE" });
});

async function authorityLink() {
  const auth = await harness<Job>("POST", "/jobs", { kind: "authority", to: "edge.test" });
  const link = await uplink(auth.id);
  await waitJob(auth.id, ["ready"]);
  return link;
}

const send = (id: string) =>
  SELF.fetch("https://edge.test/api/v1/stanzas", { method: "POST", headers: APP, body: `<message from='app@edge.test' to='t@peer.test' id='${id}'><body>${id}</body></message>` });

describe("STARTTLS with an untrusted certificate", () => {
  it("level verified: falls back to plaintext once and delivers", async () => {
    const auth = await authorityLink();
    // Its header warmed the verification link to peer.test (issue 11.6), which tried STARTTLS too.
    await warmedLink(async () => (await stats()).tlsAttempts >= 1);
    const tlsBefore = (await stats()).tlsAttempts;
    const before = await peerDomain().connections();
    expect((await send("tls-fallback")).status).toBe(202);
    const { items } = await inbox(1);
    expect(items[0]).toContain('id="tls-fallback"');
    expect((await stats()).tlsAttempts - tlsBefore).toBe(1);
    expect((await peerDomain().connections()) - before).toBe(2);
    auth.ws.close(1000);
  });

  it("level encrypted: no plaintext; the stanza bounces to the application", async () => {
    const put = await admin("/policy/domains/peer.test", { method: "PUT", json: { action: "allow", level: "encrypted" } });
    expect(put.status).toBeLessThan(300);
    await send("tls-required");
    const b = await appInbox((x) => x.includes('id="tls-required"'));
    expect(b).toContain('type="error"');
    // Issue 12: the TLS failure is reported as what it is (our policy needs TLS the peer's
    // certificate cannot give us: RFC 6120 §8.3.3.12), never remote-server-timeout.
    expect(b).toContain("<policy-violation");
    expect(b).not.toContain("remote-server-timeout");
    expect((await stats()).dbResults).toBe(0);
  });
});
