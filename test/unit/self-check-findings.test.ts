// The self-check's judgements (src/check/findings.ts), from facts given directly.
import { describe, expect, it } from "vitest";
import { gatewayFinding, hostMetaFinding, secretBits, secretFindings, srvFindings } from "../../src/check/findings.js";

describe("secrets", () => {
  it("scores random values high and readable or repetitive ones low", () => {
    expect(secretBits("a".repeat(64))).toBe(0);
    expect(secretBits("test-admin-token-0123456789")).toBeLessThan(128);
    expect(secretBits("3f9c1e0b7a2d4c6e8f1a3b5c7d9e0f21a4b6c8d0e2f4a6b8c0d2e4f6a8b0c2d4")).toBeGreaterThan(200);
  });

  it("unset, weak, strong and reused secrets", () => {
    const strong = "3f9c1e0b7a2d4c6e8f1a3b5c7d9e0f21a4b6c8d0e2f4a6b8c0d2e4f6a8b0c2d4";
    const f = secretFindings([
      { name: "DIALBACK_SECRET", value: strong },
      { name: "ADMIN_TOKEN", value: "password-password" },
      { name: "APP_TOKEN", value: undefined, unset: { severity: "warning", message: "the API is off" } },
      { name: "GATEWAY_TOKEN", value: strong },
    ]);
    expect(f.map((x) => [x.id, x.severity])).toEqual([
      ["secret.DIALBACK_SECRET", "ok"],
      ["secret.ADMIN_TOKEN", "warning"],
      ["secret.APP_TOKEN", "warning"],
      ["secret.GATEWAY_TOKEN", "ok"],
      ["secret.reused", "error"],
    ]);
    expect(f.at(-1)!.message).toBe("DIALBACK_SECRET and GATEWAY_TOKEN have the same value: whoever holds one holds both");
    expect(JSON.stringify(f)).not.toContain(strong);
  });
});

describe("SRV, gateways, host-meta", () => {
  it("records become targets to probe; none or '.' are findings with the record to publish", () => {
    const r = srvFindings("example.org", {
      tls: { kind: "none" },
      plain: { kind: "records", records: [{ priority: 0, weight: 5, port: 5269, target: "gw1.example.org" }, { priority: 1, weight: 5, port: 5269, target: "gw2.example.org" }] },
    });
    expect(r.targets).toEqual([{ host: "gw1.example.org", port: 5269, directTls: false }, { host: "gw2.example.org", port: 5269, directTls: false }]);
    expect(r.findings.map((f) => f.severity)).toEqual(["warning", "ok"]);
    expect(r.findings[0]!.fix).toBe("publish _xmpps-server._tcp.example.org. 3600 IN SRV 0 5 5270 gateway.example.org. (a host running the gateway from gateway/, port 5270)");
    const dot = srvFindings("example.org", { tls: { kind: "error", reason: "DoH status 2" }, plain: { kind: "records", records: [{ priority: 0, weight: 0, port: 0, target: "." }] } });
    expect(dot.findings.map((f) => f.severity)).toEqual(["error", "error"]);
    expect(dot.targets).toEqual([]);
  });

  it("a gateway that reaches this edge is ok; one that reaches another server is an error", () => {
    const t = { host: "gw.example.org", port: 5270, directTls: true };
    expect(gatewayFinding("example.org", t, { reached: true, thisEdge: true, features: ["starttls", "dialback"] })).toMatchObject({ severity: "ok" });
    expect(gatewayFinding("example.org", t, { reached: true, thisEdge: false, from: "example.org", features: [] })).toMatchObject({ severity: "error" });
    expect(gatewayFinding("example.org", t, { reached: false, kind: "tls", problem: "TLS failed", fix: "get a certificate" })).toMatchObject({ severity: "error", fix: "get a certificate" });
  });

  it("host-meta must advertise this edge's endpoint", () => {
    const want = "wss://xmpp.example.org/xmpp-s2s";
    expect(hostMetaFinding("example.org", want, { ok: true, hrefs: [want] }).severity).toBe("ok");
    const other = hostMetaFinding("example.org", want, { ok: true, hrefs: ["wss://elsewhere.example/ws"] });
    expect(other).toMatchObject({ severity: "error" });
    expect(other.message).toContain("it lists wss://elsewhere.example/ws");
    expect(hostMetaFinding("example.org", want, { ok: false, problem: "answered HTTP 404" }).severity).toBe("error");
  });
});
