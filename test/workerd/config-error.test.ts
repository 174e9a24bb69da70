// Issue 13: a Worker with a bad setting cannot refuse to start, so it answers every request 503 with a
// generic problem+json (the public must not learn the configuration error, not even the variable's
// name; it used to be a 500 naming it, to unauthenticated callers too) and logs the exact error once
// per isolate for the operator.
import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import app from "../../worker/index.js";
import { TOKEN } from "./admin-helpers.js";

const BAD = "S2S_STATIC_ROUTES=peer.test=127.0.0.1:35269";

afterEach(() => vi.restoreAllMocks());

describe("a bad setting in production", () => {
  it("answers 503 problem+json with a generic body on every route, authenticated or not", async () => {
    const bad = { ...env, EDGE_ENV: "production", S2S_STATIC_ROUTES: BAD };
    vi.spyOn(console, "error").mockImplementation(() => {});
    const cases: [string, RequestInit][] = [
      ["https://edge.test/", {}],
      ["https://edge.test/.well-known/host-meta", {}],
      ["https://edge.test/xmpp-s2s", { headers: { upgrade: "websocket" } }],
      ["https://edge.test/admin/v1/policy", { headers: { authorization: `Bearer ${TOKEN}` } }],
      ["https://edge.test/admin/v1/sessions", {}],
      ["https://edge.test/api/v1/inbox", { headers: { authorization: "Bearer test-app-token-0123456789ab" } }],
      ["https://edge.test/nowhere", {}],
    ];
    for (const [url, init] of cases) {
      const res = await app.request(url, init, bad);
      expect(res.status, url).toBe(503);
      expect(res.headers.get("content-type"), url).toBe("application/problem+json");
      const text = await res.text();
      const body = JSON.parse(text) as { status: number; title: string };
      expect(body.status).toBe(503);
      expect(body.title).toBe("Service Unavailable");
      expect(text, url).not.toMatch(/S2S_STATIC_ROUTES|peer\.test|127\.0\.0\.1|s2s_static_routes/i);
    }
  });

  it("logs the exact error once per isolate, naming the variable", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const bad = { ...env, S2S_IDLE_SECONDS: "forever" };
    for (let i = 0; i < 5; i++) {
      expect((await app.request("https://edge.test/", {}, { ...bad })).status).toBe(503);
    }
    const lines = errors.mock.calls.map((args) => String(args[0])).filter((l) => l.includes("S2S_IDLE_SECONDS"));
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: "error",
      event: "config.error",
      variable: "S2S_IDLE_SECONDS",
      problem: "must be an integer from 1 to 86400, got 'forever'",
    });
  });

  it("a good configuration is untouched: the same request answers 200", async () => {
    expect((await app.request("https://edge.test/", {}, env)).status).toBe(200);
  });
});
