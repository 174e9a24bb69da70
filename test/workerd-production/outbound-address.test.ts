// Issue 10 defect 7 (SSRF), with the edge as deployed (EDGE_ENV=production): a remote domain whose
// DNS points into loopback, private or metadata space gets no connection from the edge. The harness
// listens on 127.0.0.1 and its DoH endpoint serves the attacker's records; its TCP accept counter
// shows whether the edge dialled it. Verification answers remote-server-not-found, API stanzas bounce
// with it, and the audit log names the refused target.
import { SELF } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { harness, stats, uplink, waitJob } from "../harness/bridge.js";
import type { Job } from "../harness/peer.js";

const APP = { authorization: "Bearer test-app-token-0123456789ab" };
const ADMIN = { authorization: "Bearer test-admin-token-0123456789" };
const s2sPort = () => inject("harnessPorts").s2s;

async function claim(from: string) {
  const job = await harness<Job>("POST", "/jobs", { kind: "originate", from, to: "edge.test", stanzas: [] });
  await uplink(job.id);
  return waitJob(job.id, ["sent", "refused", "closed"]);
}

async function appInbox(predicate: (xml: string) => boolean, ms = 5000): Promise<string | undefined> {
  const deadline = Date.now() + ms;
  for (;;) {
    const res = await SELF.fetch("https://edge.test/api/v1/inbox?limit=100", { headers: APP });
    const hit = (await res.json<{ items: { xml: string }[] }>()).items.map((i) => i.xml).find(predicate);
    if (hit || Date.now() > deadline) return hit;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function auditDetails(): Promise<string[]> {
  const res = await SELF.fetch("https://edge.test/admin/v1/audit?limit=100", { headers: ADMIN });
  return (await res.json<{ items: { kind: string; detail?: string }[] }>()).items.filter((i) => i.kind === "outbound.address-refused").map((i) => i.detail ?? "");
}

beforeEach(async () => {
  await harness("POST", "/reset");
});

describe("outbound targets in private address space are never dialled", () => {
  it("an SRV answer pointing at 127.0.0.1: the claim gets remote-server-not-found, no connection", async () => {
    await harness("POST", "/dns", { "_xmpp-server._tcp.evil-srv.test": [`0 0 ${s2sPort()} 127.0.0.1.`] });
    const job = await claim("evil-srv.test");
    expect(job.result).toEqual({ type: "error", condition: "remote-server-not-found" });
    expect((await stats()).tcpAccepted).toBe(0);
    expect((await auditDetails()).some((d) => d.includes("127.0.0.1") && d.includes("loopback"))).toBe(true);
  });

  it("an SRV target name whose A record is loopback, and a metadata literal: refused alike", async () => {
    await harness("POST", "/dns", {
      "_xmpps-server._tcp.evil-name.test": ["0 0 80 169.254.169.254."],
      "_xmpp-server._tcp.evil-name.test": [`5 0 ${s2sPort()} xmpp.evil-name.test.`],
      "A:xmpp.evil-name.test": ["127.0.0.1"],
    });
    const job = await claim("evil-name.test");
    expect(job.result).toEqual({ type: "error", condition: "remote-server-not-found" });
    expect((await stats()).tcpAccepted).toBe(0);
    const details = await auditDetails();
    expect(details.some((d) => d.includes("169.254.169.254"))).toBe(true);
    expect(details.some((d) => d.includes("xmpp.evil-name.test") && d.includes("127.0.0.1"))).toBe(true);
  });

  it("no SRV: the domain's own AAAA record (IPv4-mapped loopback) is refused too", async () => {
    await harness("POST", "/dns", { "AAAA:evil-mapped.test": ["::ffff:127.0.0.1"] });
    const job = await claim("evil-mapped.test");
    expect(job.result).toEqual({ type: "error", condition: "remote-server-not-found" });
    // (connect() could not have reached the harness here anyway: the audit entry is the proof.)
    expect((await auditDetails()).some((d) => d.includes("::ffff:127.0.0.1"))).toBe(true);
  });

  it("an API stanza to such a domain bounces with remote-server-not-found", async () => {
    await harness("POST", "/dns", { "_xmpp-server._tcp.evil-out.test": [`0 0 ${s2sPort()} 0x7f.0.0.1.`] });
    const res = await SELF.fetch("https://edge.test/api/v1/stanzas", {
      method: "POST", headers: APP, body: "<message from='app@edge.test' to='x@evil-out.test' id='ssrf-out'><body>x</body></message>",
    });
    expect(res.status).toBe(202);
    const bounce = await appInbox((x) => x.includes('id="ssrf-out"'));
    expect(bounce).toContain("<remote-server-not-found");
    expect((await stats()).tcpAccepted).toBe(0);
  });

  it("a static route (the operator's choice) is still dialled on loopback", async () => {
    const job = await claim("peer.test");
    expect(job.result).toEqual({ type: "valid" });
    expect((await stats()).tcpAccepted).toBeGreaterThan(0);
  });
});
