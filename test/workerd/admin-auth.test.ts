import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import app from "../../worker/index.js";
import { admin, problemOf } from "./admin-helpers.js";

describe("admin API authentication (RFC 6750 bearer)", () => {
  it("refuses a request without a token: 401, WWW-Authenticate: Bearer, problem+json", async () => {
    const res = await admin("/policy", { headers: { authorization: "" } });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer /);
    expect((await problemOf(res)).detail).toContain("Authorization: Bearer");
  });

  it("refuses a wrong token and a non-bearer scheme", async () => {
    const wrong = await admin("/policy", { headers: { authorization: "Bearer test-admin-token-0123456780" } });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("www-authenticate")).toContain('error="invalid_token"');
    expect((await problemOf(wrong)).detail).toBe("the bearer token is not the admin token");
    const basic = await admin("/policy", { headers: { authorization: "Basic dXNlcjpwYXNz" } });
    expect(basic.status).toBe(401);
    expect((await problemOf(basic)).detail).toContain("not 'Bearer <token>'");
  });

  it("guards every route, including unknown ones and openapi.json", async () => {
    for (const path of ["/openapi.json", "/metrics", "/sessions", "/nope"]) {
      const res = await admin(path, { headers: { authorization: "" } });
      expect(res.status, path).toBe(401);
    }
  });

  it("is refused, never open, when ADMIN_TOKEN is unset", async () => {
    const { ADMIN_TOKEN: _, ...rest } = env;
    const res = await app.request("https://edge.test/admin/v1/policy", { headers: { authorization: "Bearer anything-at-all-here" } }, rest);
    expect(res.status).toBe(503);
    expect((await problemOf(res)).detail).toContain("ADMIN_TOKEN is not set");
  });

  it("answers an unknown admin path with a 404 problem", async () => {
    const res = await admin("/nope");
    expect(res.status).toBe(404);
    expect((await problemOf(res)).detail).toBe("no admin route GET /admin/v1/nope");
  });
});

describe("GET /admin/v1/openapi.json", () => {
  it("is an OpenAPI 3.1 document generated from the route schemas", async () => {
    const res = await admin("/openapi.json");
    expect(res.status).toBe(200);
    const doc = await res.json<{ openapi: string; paths: Record<string, Record<string, unknown>>; components: { schemas: Record<string, { properties?: Record<string, unknown> }> } }>();
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths).sort()).toEqual([
      "/audit",
      "/check",
      "/dialback/verify",
      "/metrics",
      "/pairs",
      "/pairs/{local}/{remote}",
      "/peers/{domain}",
      "/peers/{domain}/check",
      "/peers/{domain}/sessions",
      "/policy",
      "/policy/domains/{domain}",
      "/sessions",
      "/sessions/{id}",
    ]);
    expect(Object.keys(doc.paths["/policy"]!).sort()).toEqual(["get", "patch", "put"]);
    // The policy schema is the one the routes validate with: its fields and the level enum are there.
    expect(Object.keys(doc.components.schemas.PolicyDocument!.properties!).sort()).toEqual(["allowPermissive", "allowlistOnly", "domains", "knobs", "level"]);
    expect(JSON.stringify(doc.components.schemas.Level)).toContain("trusted");
  });
});

describe("methods", () => {
  it("answers a known path with another method 405 and Allow", async () => {
    const res = await admin("/policy", { method: "POST", json: {} });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, PUT, PATCH");
    expect((await problemOf(res)).detail).toBe("POST is not allowed on /admin/v1/policy; use GET, PUT, PATCH");
    const pair = await admin("/pairs/a.example/b.example", { method: "PUT" });
    expect(pair.status).toBe(405);
    expect(pair.headers.get("allow")).toBe("GET, DELETE");
  });
});
