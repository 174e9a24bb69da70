// Issue 13: METRICS_TOKEN reads GET /admin/v1/metrics and nothing else, so a Prometheus scraper never
// holds the admin token. Everywhere else it gets 403 with WWW-Authenticate: Bearer
// error="insufficient_scope" (RFC 6750 §3.1), not 401: the token is right, its scope is not.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import app from "../../worker/index.js";
import { admin, problemOf } from "./admin-helpers.js";

const METRICS = "Bearer test-metrics-token-0123456789";

describe("METRICS_TOKEN", () => {
  it("reads GET /admin/v1/metrics", async () => {
    const res = await admin("/metrics", { headers: { authorization: METRICS } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    expect(await res.text()).toContain("dialback_edge_");
  });

  it("gets 403 insufficient_scope on every other admin route and method", async () => {
    const cases: [string, RequestInit & { json?: unknown }][] = [
      ["/policy", {}],
      ["/policy", { method: "PUT", json: { level: "open" } }],
      ["/sessions", {}],
      ["/pairs", {}],
      ["/audit", {}],
      ["/openapi.json", {}],
      ["/peers/peer.test", {}],
      ["/metrics", { method: "DELETE" }],
      ["/nope", {}],
    ];
    for (const [path, init] of cases) {
      const res = await admin(path, { ...init, headers: { authorization: METRICS } });
      expect(res.status, `${init.method ?? "GET"} ${path}`).toBe(403);
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer realm="dialback-edge admin", error="insufficient_scope"/);
      expect((await problemOf(res)).detail).toContain("needs the admin token");
    }
  });

  it("the admin token still reads everything, and a wrong token is still 401 invalid_token", async () => {
    expect((await admin("/metrics")).status).toBe(200);
    expect((await admin("/policy")).status).toBe(200);
    const wrong = await admin("/metrics", { headers: { authorization: "Bearer test-metrics-token-0123456780" } });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("www-authenticate")).toContain('error="invalid_token"');
  });

  it("without METRICS_TOKEN, nothing but the admin token opens /metrics", async () => {
    const { METRICS_TOKEN: _, ...rest } = env as unknown as Record<string, unknown>;
    const res = await app.request("https://edge.test/admin/v1/metrics", { headers: { authorization: METRICS } }, rest);
    expect(res.status).toBe(401);
  });

  it("with METRICS_TOKEN but no ADMIN_TOKEN, metrics are readable and the rest is 503 disabled", async () => {
    const { ADMIN_TOKEN: _, ...rest } = env as unknown as Record<string, unknown>;
    expect((await app.request("https://edge.test/admin/v1/metrics", { headers: { authorization: METRICS } }, rest)).status).toBe(200);
    expect((await app.request("https://edge.test/admin/v1/policy", { headers: { authorization: METRICS } }, rest)).status).toBe(503);
  });
});
