// GET /admin/v1/check (issue 13, like `prosodyctl check`): findings per hosted domain from real DoH
// answers (the harness's resolver) and real probes of the SRV targets, then DoH, secrets and policy.
import { inject } from "vitest";
import { beforeEach, describe, expect, it } from "vitest";
import { harness } from "../harness/bridge.js";
import { admin } from "./helpers.js";

type Finding = { id: string; severity: "ok" | "warning" | "error"; domain?: string; message: string; fix: string };
type Check = { ok: boolean; counts: Record<string, number>; findings: Finding[] };

beforeEach(async () => {
  await harness("POST", "/reset");
});

async function check(): Promise<Check> {
  const res = await admin("/check");
  expect(res.status, await res.clone().text()).toBe(200);
  return res.json<Check>();
}
const find = (c: Check, id: string, domain?: string) => c.findings.filter((f) => f.id === id && (domain === undefined || f.domain === domain));

describe("GET /admin/v1/check", () => {
  it("per hosted domain: SRV records, each gateway probed, host-meta; every finding with severity and fix", async () => {
    const { s2s, closed } = inject("harnessPorts");
    await harness("POST", "/dns", {
      // edge.test points at an XMPP server that is not this edge (the harness peer).
      "_xmpp-server._tcp.edge.test": [`0 5 ${s2s} 127.0.0.1.`],
      // chat.edge.test points at a port nobody listens on, and has a direct-TLS record too.
      "_xmpp-server._tcp.chat.edge.test": [`0 5 ${closed} 127.0.0.1.`],
      "_xmpps-server._tcp.chat.edge.test": ["0 0 0 ."],
    });
    const c = await check();
    expect(c.ok).toBe(false);
    for (const f of c.findings) {
      expect(["ok", "warning", "error"]).toContain(f.severity);
      if (f.severity !== "ok") expect(f.fix.length).toBeGreaterThan(10);
    }
    // Errors first.
    expect(c.findings.map((f) => f.severity)).toEqual([...c.findings.map((f) => f.severity)].sort((a, b) => ["error", "warning", "ok"].indexOf(a) - ["error", "warning", "ok"].indexOf(b)));

    const srv = find(c, "srv", "edge.test");
    expect(srv.find((f) => f.message.startsWith("_xmpp-server._tcp.edge.test ->"))).toMatchObject({ severity: "ok" });
    expect(srv.find((f) => f.message.startsWith("_xmpps-server._tcp.edge.test has no SRV record"))).toMatchObject({ severity: "warning" });
    expect(find(c, "srv", "chat.edge.test").find((f) => f.message.includes('is "."'))).toMatchObject({ severity: "warning" });

    const [other] = find(c, "gateway", "edge.test");
    expect(other).toMatchObject({ severity: "error" });
    expect(other!.message).toMatch(/answers XMPP.*not one of this edge's/);
    expect(other!.fix).toMatch(/GATEWAY_EDGE_URL/);
    const [refused] = find(c, "gateway", "chat.edge.test");
    expect(refused).toMatchObject({ severity: "error" });
    expect(refused!.message).toMatch(/nothing accepted the connection/);

    for (const d of ["edge.test", "chat.edge.test"]) {
      const [hm] = find(c, "host-meta", d);
      expect(hm).toMatchObject({ severity: "error" });
      expect(hm!.fix).toContain(`route ${d}/.well-known/host-meta`);
    }
    expect(find(c, "doh")[0]).toMatchObject({ severity: "ok" });
    expect(find(c, "policy")[0]).toMatchObject({ severity: "ok" });
    // The test deployment's tokens are readable words and digits: flagged as weak, never shown.
    const admin_ = find(c, "secret.ADMIN_TOKEN")[0]!;
    expect(admin_.severity).toBe("warning");
    expect(admin_.fix).toContain("openssl rand -hex 32");
    expect(JSON.stringify(c)).not.toContain("test-admin-token-0123456789");
  });

  it("a domain without SRV records, a failing resolver and an inconsistent policy are findings too", async () => {
    await harness("POST", "/dns", { "_xmpp-server._tcp.jabber.org": ["SERVFAIL"] });
    expect((await admin("/policy", { method: "PATCH", json: { allowlistOnly: true } })).status).toBe(200);
    try {
      const c = await check();
      const none = find(c, "srv", "edge.test").find((f) => f.message.startsWith("_xmpp-server._tcp.edge.test has no SRV record"))!;
      expect(none.severity).toBe("error");
      expect(none.fix).toMatch(/^publish _xmpp-server\._tcp\.edge\.test\. 3600 IN SRV 0 5 5269 /);
      expect(find(c, "gateway", "edge.test")).toEqual([]);
      expect(find(c, "doh")[0]).toMatchObject({ severity: "error" });
      expect(find(c, "doh")[0]!.fix).toContain("DOH_URL");
      expect(find(c, "policy")[0]).toMatchObject({ severity: "warning", message: expect.stringContaining("allowlistOnly") });
    } finally {
      await admin("/policy", { method: "PATCH", json: { allowlistOnly: false } });
    }
  });
});
