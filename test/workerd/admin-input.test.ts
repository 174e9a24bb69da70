// Issue 10.9: every bad input to /admin/v1 is a 4xx problem+json naming what is wrong, never a 500.
// Path parameters are percent-decoded exactly once; request bodies have a depth and a size limit
// checked before they are parsed; no key is ever looked up through Object.prototype.
import { describe, expect, it } from "vitest";
import { admin, problemOf } from "./admin-helpers.js";
import { MAX_JSON_BODY_BYTES, MAX_JSON_DEPTH } from "../../worker/admin/body.js";

const deep = (n: number, leaf = "1") => "[".repeat(n) + leaf + "]".repeat(n);
const deepObject = (n: number) => '{"a":'.repeat(n) + "1" + "}".repeat(n);
const raw = (path: string, method: string, body: string, type = "application/json") =>
  admin(path, { method, body, headers: { "content-type": type } });

describe("path parameters", () => {
  it("are decoded once: %25 is a literal '%' (422, not a domain), never decoded again into a 500", async () => {
    for (const path of ["/policy/domains/%25", "/policy/domains/%2541", "/peers/%25", "/pairs/%25/peer.test", "/pairs/edge.test/%25"]) {
      const res = await admin(path);
      expect(res.status, path).toBe(422);
      expect((await problemOf(res)).detail, path).toMatch(/is not a domain/);
    }
    // %2A is '*': decoded once it is the pattern *.example.org (no rule yet: 404 naming it).
    const once = await admin("/policy/domains/%2A.example.org");
    expect(once.status).toBe(404);
    expect((await problemOf(once)).detail).toContain("'*.example.org'");
    // %252A decoded once is '%2A': not a pattern. Decoded twice it would have been '*'.
    expect((await admin("/policy/domains/%252A.example.org")).status).toBe(422);
  });

  it("that are not UTF-8 once decoded (overlong %C0%AF, lone %FF, truncated %E2%82) are 400 naming the segment", async () => {
    for (const seg of ["%C0%AF", "%FF", "%E2%82", "a%C0%AFb.example"]) {
      for (const path of [`/policy/domains/${seg}`, `/peers/${seg}`, `/sessions/${seg}`, `/pairs/${seg}/peer.test`]) {
        const res = await admin(path);
        expect(res.status, path).toBe(400);
        expect((await problemOf(res)).detail, path).toContain(seg);
      }
    }
  });

  it("__proto__, constructor and friends are no rule: never 200 from Object.prototype", async () => {
    expect((await admin("/policy/domains/__proto__")).status).toBe(422);
    for (const name of ["constructor", "tostring", "valueof", "hasownproperty", "prototype", "*.constructor"]) {
      const res = await admin(`/policy/domains/${name}`);
      expect(res.status, name).toBe(404);
      expect((await problemOf(res)).detail).toContain("governed by the global level");
    }
    const peer = await (await admin("/peers/constructor")).json<{ policy: { rule: unknown; denied: boolean } }>();
    expect(peer.policy).toMatchObject({ rule: null, denied: false });
  });

  it("a real rule named like a prototype key is an ordinary rule", async () => {
    expect((await admin("/policy/domains/constructor", { method: "PUT", json: { action: "deny" } })).status).toBe(201);
    const got = await admin("/policy/domains/constructor");
    expect(got.status).toBe(200);
    expect(await got.json()).toMatchObject({ pattern: "constructor", rule: { action: "deny" } });
    expect((await (await admin("/peers/constructor")).json<{ policy: { denied: boolean } }>()).policy.denied).toBe(true);
    expect((await admin("/policy/domains/constructor", { method: "DELETE" })).status).toBe(200);
    expect((await admin("/policy/domains/constructor")).status).toBe(404);
  });
});

describe("request bodies", () => {
  it(`JSON nested deeper than ${MAX_JSON_DEPTH} is 400 naming the limit, on every route that takes a body`, async () => {
    const routes: [string, string][] = [["/policy", "PUT"], ["/policy", "PATCH"], ["/policy/domains/x.example", "PUT"], ["/dialback/verify", "POST"], ["/peers/x.example/check", "POST"]];
    for (const [path, method] of routes) {
      for (const body of [deep(5000), deepObject(5000), `{"domains":${deep(MAX_JSON_DEPTH)}}`]) {
        const res = await raw(path, method, body);
        expect(res.status, `${method} ${path}`).toBe(400);
        expect((await problemOf(res)).detail).toContain(`deeper than ${MAX_JSON_DEPTH}`);
      }
    }
    // Brackets inside strings are text, not nesting.
    const res = await raw("/policy", "PATCH", JSON.stringify({ level: "[".repeat(5000) }));
    expect(res.status).toBe(422);
  });

  it(`a body over ${MAX_JSON_BODY_BYTES} bytes is 413, whether or not Content-Length says so`, async () => {
    const big = JSON.stringify({ domains: {}, pad: "x".repeat(MAX_JSON_BODY_BYTES) });
    const res = await raw("/policy", "PUT", big);
    expect(res.status).toBe(413);
    expect((await problemOf(res)).detail).toContain(String(MAX_JSON_BODY_BYTES));
    const chunked = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode(big));
        c.close();
      },
    });
    const res2 = await admin("/policy", { method: "PUT", body: chunked, headers: { "content-type": "application/json" }, duplex: "half" } as RequestInit);
    expect(res2.status).toBe(413);
  });

  it("malformed JSON is 400, a body that is not JSON is 415, a PUT or PATCH without a body is 400: the policy is unchanged", async () => {
    const before = (await admin("/policy")).headers.get("etag");
    const bad = await raw("/policy", "PUT", '{"level": ');
    expect(bad.status).toBe(400);
    expect((await problemOf(bad)).detail).toMatch(/JSON/);
    const text = await raw("/policy", "PUT", "level=trusted", "text/plain");
    expect(text.status).toBe(415);
    expect((await problemOf(text)).detail).toContain("application/json");
    const none = await admin("/policy", { method: "PUT" });
    expect(none.status).toBe(400);
    expect((await admin("/policy", { method: "PATCH" })).status).toBe(400);
    expect((await admin("/policy")).headers.get("etag")).toBe(before);
  });

  it("__proto__ keys anywhere in a body are 422 naming them; the policy is unchanged and nothing is polluted", async () => {
    const before = (await admin("/policy")).headers.get("etag");
    const bodies: [string, string, string][] = [
      ["/policy", "PUT", '{"domains":{"__proto__":{"action":"allow","level":"permissive"}}}'],
      ["/policy", "PATCH", '{"__proto__":{"level":"permissive"}}'],
      ["/policy", "PATCH", '{"domains":{"__proto__":{"evil.example":{"action":"allow"}}}}'],
      ["/policy/domains/x.example", "PUT", '{"action":"deny","__proto__":{"level":"trusted"}}'],
    ];
    for (const [path, method, body] of bodies) {
      const res = await raw(path, method, body);
      expect(res.status, body).toBe(422);
      expect((await problemOf(res)).detail).toContain("__proto__");
    }
    expect((await admin("/policy")).headers.get("etag")).toBe(before);
    expect(({} as Record<string, unknown>).level).toBeUndefined();
  });
});
