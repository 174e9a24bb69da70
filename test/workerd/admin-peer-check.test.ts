// POST /admin/v1/peers/{domain}/check says what failed in DNS / refused / timeout / TLS terms, with a
// fix (issue 13): a failed DoH lookup is a failure (not "no SRV, fallback"), a refused port and a
// name without addresses are told apart, and a STARTTLS certificate the platform refuses is a TLS failure.
import { inject } from "vitest";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { harness } from "../harness/bridge.js";
import { admin } from "./helpers.js";

type Step = { step: string; ok: boolean; detail: string; condition?: string; kind?: string; fix?: string };
type Check = { ok: boolean; steps: Step[] };

beforeEach(async () => {
  await harness("POST", "/reset");
});
afterEach(async () => {
  await admin("/policy/domains/peer.test", { method: "DELETE" });
});

const check = async (domain: string) => {
  const res = await admin(`/peers/${domain}/check`, { method: "POST", json: {} });
  expect(res.status, await res.clone().text()).toBe(200);
  return res.json<Check>();
};

describe("peer check diagnosis", () => {
  it("a DoH lookup that fails (SERVFAIL) fails the resolve step, with a fix naming DOH_URL", async () => {
    await harness("POST", "/dns", { "_xmpp-server._tcp.dohfail.test": ["SERVFAIL"] });
    const r = await check("dohfail.test");
    expect(r.ok).toBe(false);
    const resolve = r.steps.find((s) => s.step === "resolve")!;
    expect(resolve).toMatchObject({ ok: false, kind: "dns" });
    expect(resolve.detail).toMatch(/^DNS lookup failed: _xmpp-server\._tcp\.dohfail\.test SRV: DoH status 2/);
    expect(resolve.detail).toContain("would fall back to dohfail.test:5269");
    expect(resolve.fix).toMatch(/DOH_URL \(http:\/\/127\.0\.0\.1:\d+\/dns-query\) answers/);
    expect(r.steps.at(-1)!.step).toBe("resolve");
  });

  it("a port nobody listens on is 'refused', with what to check", async () => {
    await harness("POST", "/dns", { "_xmpp-server._tcp.refused.test": [`0 0 ${inject("harnessPorts").closed} 127.0.0.1.`] });
    const r = await check("refused.test");
    const connect = r.steps.find((s) => s.step === "connect")!;
    expect(connect).toMatchObject({ ok: false, kind: "refused" });
    expect(connect.detail).toMatch(/^127\.0\.0\.1:\d+: nothing accepted the connection/);
    expect(connect.fix).toMatch(/listens on that host and port/);
  });

  it("an SRV target without A/AAAA records is a DNS failure, not a refusal", async () => {
    await harness("POST", "/dns", { "_xmpp-server._tcp.noaddr.test": ["0 0 5269 xmpp.noaddr.test."] });
    const r = await check("noaddr.test");
    const connect = r.steps.find((s) => s.step === "connect")!;
    expect(connect).toMatchObject({ ok: false, kind: "dns" });
    expect(connect.detail).toContain("xmpp.noaddr.test has no A or AAAA record");
    expect(connect.fix).toMatch(/publish A\/AAAA records for xmpp\.noaddr\.test/);
  });

  it("a STARTTLS certificate connect() does not trust is a TLS failure with a fix", async () => {
    await harness("POST", "/config", { offerStartTls: true });
    expect((await admin("/policy/domains/peer.test", { method: "PUT", json: { action: "allow", level: "encrypted" } })).ok).toBe(true);
    const r = await check("peer.test");
    const tls = r.steps.at(-1)!;
    expect(tls).toMatchObject({ step: "starttls", ok: false, kind: "tls" });
    expect(tls.detail).toMatch(/^TLS with 127\.0\.0\.1:\d+ failed/);
    expect(tls.fix).toMatch(/certificate from a public CA/);
  });
});
