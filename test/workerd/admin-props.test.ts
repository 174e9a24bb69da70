// Issue 15 property 6: whatever an authenticated caller puts in a path parameter or a request body,
// the admin API answers a 4xx problem+json or a success, never a 5xx. Path segments are drawn from
// percent-encoding (valid and broken UTF-8, double-encoded, lone '%'), any Unicode, very long values
// and prototype names; bodies from random JSON (deep, wide, wrong types, __proto__ keys), nesting
// far past the limit, non-JSON text and other media types. Bounded runs with a fixed seed (fast-check
// prints seed and path on failure); PROPS_RUNS / PROPS_SEED from the host environment override them
// (test/harness/global-setup.ts). Faults found are fixed with plain regression tests in
// admin-input.test.ts.
import { SELF } from "cloudflare:test";
import fc from "fast-check";
import { describe, expect, inject, it } from "vitest";
import { TOKEN } from "./admin-helpers.js";

const props = inject("props");
const SEED = props.seed ?? 20261202;
const runs = (n: number) => props.runs ?? n;
const TIMEOUT = props.runs ? 0 : 240_000;

// ------------------------------------------------------------------------------- path segments

const PROTO_NAMES = ["__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "__defineGetter__", "valueOf", "*.__proto__", "*.constructor"];
const hex = fc.integer({ min: 0, max: 255 }).map((b) => `%${b.toString(16).padStart(2, "0").toUpperCase()}`);
const piece = fc.oneof(
  fc.constantFrom(...PROTO_NAMES, "%", "%%", "%2", "%25", "%252A", "%C0%AF", "%FF", "%E2%82", "%00", "*.", ".", "..", "%2F", "%2E%2E", "xn--", "-", "_", "example.org"),
  hex,
  fc.string({ unit: "grapheme", maxLength: 8 }).map(encodeURIComponent),
  fc.string({ unit: "binary", maxLength: 8 }).map((s) => encodeURIComponent(s.replace(/[\uD800-\uDFFF]/g, "x"))),
  fc.stringMatching(/^[a-z0-9.-]{1,20}$/),
);
const segment = fc.oneof(
  { weight: 8, arbitrary: fc.array(piece, { minLength: 1, maxLength: 6 }).map((p) => p.join("")) },
  { weight: 1, arbitrary: fc.integer({ min: 254, max: 8000 }).map((n) => "a".repeat(n)) },
  { weight: 1, arbitrary: fc.integer({ min: 60, max: 300 }).map((n) => Array.from({ length: n }, () => "abc").join(".")) },
);

const pathRoutes = fc.constantFrom(
  (a: string) => ["GET", `/policy/domains/${a}`],
  (a: string) => ["DELETE", `/policy/domains/${a}`],
  (a: string) => ["GET", `/peers/${a}`],
  (a: string, b: string) => ["GET", `/pairs/${a}/${b}`],
  (a: string, b: string) => ["DELETE", `/pairs/${a}/${b}`],
  (a: string) => ["GET", `/sessions/${a}`],
  (a: string) => ["DELETE", `/sessions/${a}`],
  (a: string) => ["GET", `/pairs?remote=${a}`],
  (a: string) => ["PUT", `/policy/domains/${a}`],
);

async function call(method: string, path: string, body?: string, type?: string): Promise<Response> {
  const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` };
  if (type) headers["content-type"] = type;
  return SELF.fetch(`https://edge.test/admin/v1${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
}

/** Never a 5xx; an error is problem+json whose status is the response's. */
async function noServerError(res: Response, what: string): Promise<void> {
  const text = await res.text();
  expect(res.status, `${what} -> ${res.status} ${text.slice(0, 300)}`).toBeLessThan(500);
  if (res.status >= 400) {
    expect(res.headers.get("content-type"), what).toBe("application/problem+json");
    expect(JSON.parse(text).status, what).toBe(res.status);
  }
}

describe("admin API path parameters (issue 15 property 6)", () => {
  it(
    "random percent-encoding, Unicode, very long and prototype-like segments never produce a 5xx",
    async () => {
      await fc.assert(
        fc.asyncProperty(pathRoutes, segment, segment, async (route, a, b) => {
          const [method, path] = route(a, b) as [string, string];
          const body = method === "PUT" ? JSON.stringify({ action: "deny" }) : undefined;
          await noServerError(await call(method, path, body, body ? "application/json" : undefined), `${method} ${path.slice(0, 200)}`);
        }),
        { numRuns: runs(150), seed: SEED },
      );
    },
    TIMEOUT,
  );
});

// ------------------------------------------------------------------------------------ bodies

type Tree = { leaf: unknown } | { arr: Tree[] } | { obj: [string, Tree][] };
const KEYS = ["__proto__", "constructor", "prototype", "level", "domains", "knobs", "action", "note", "allowPermissive", "allowlistOnly", "example.org", "*.example.org", "", "from", "key", "streamId", "receiving", "originating"];
const { tree } = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.oneof(fc.jsonValue({ maxDepth: 1 }), fc.constantFrom("permissive", "verified", "encrypted", "trusted", "allow", "deny", "keep-stream", -1, 1e308, 2 ** 53 + 1)).map((leaf) => ({ leaf })),
    fc.array(tie("tree"), { maxLength: 4 }).map((arr) => ({ arr })),
    fc.array(fc.tuple(fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 12 })), tie("tree")), { maxLength: 5 }).map((obj) => ({ obj })),
  ),
}));

/** JSON text of a tree, written by hand so `__proto__` can be an ordinary key. */
function toJson(t: Tree): string {
  if ("leaf" in t) return JSON.stringify(t.leaf) ?? "null";
  if ("arr" in t) return `[${t.arr.map(toJson).join(",")}]`;
  return `{${t.obj.map(([k, v]) => `${JSON.stringify(k)}:${toJson(v)}`).join(",")}}`;
}

const deepText = fc.tuple(fc.integer({ min: 30, max: 6000 }), fc.boolean()).map(([n, obj]) => (obj ? '{"a":'.repeat(n) + "1" + "}".repeat(n) : "[".repeat(n) + "]".repeat(n)));
const wideText = fc.integer({ min: 100, max: 20_000 }).map((n) => `{"domains":{${Array.from({ length: n }, (_, i) => `"d${i}.example":{"action":"allow"}`).join(",")}}}`);
const policyShaped = fc
  .record({ level: tree, domains: tree, knobs: tree, allowPermissive: tree, allowlistOnly: tree }, { requiredKeys: [] })
  .map((r) => `{${Object.entries(r).map(([k, v]) => `${JSON.stringify(k)}:${toJson(v)}`).join(",")}}`);
const bodyText = fc.oneof(
  { weight: 4, arbitrary: tree.map(toJson) },
  { weight: 3, arbitrary: policyShaped },
  { weight: 3, arbitrary: deepText },
  { weight: 1, arbitrary: wideText },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 200 }) },
  { weight: 1, arbitrary: tree.map(toJson).map((s) => s.slice(0, Math.max(0, s.length - 1))) },
);
const mediaType = fc.constantFrom("application/json", "application/json", "application/merge-patch+json", "application/json; charset=utf-8", "text/plain", undefined);
const bodyRoutes = fc.constantFrom<[string, string]>(
  ["PUT", "/policy"],
  ["PATCH", "/policy"],
  ["PUT", "/policy/domains/x.example"],
  ["PUT", "/policy/domains/*.example.net"],
  ["POST", "/dialback/verify"],
  ["POST", "/peers/unreachable.test/check"],
);

describe("admin API request bodies (issue 15 property 6)", () => {
  it(
    "random JSON (deep, wide, wrong types, __proto__ keys), broken JSON and other media types never produce a 5xx",
    async () => {
      await fc.assert(
        fc.asyncProperty(bodyRoutes, bodyText, mediaType, async ([method, path], body, type) => {
          await noServerError(await call(method, path, body, type), `${method} ${path} (${type}) ${body.slice(0, 200)}`);
        }),
        { numRuns: runs(150), seed: SEED },
      );
    },
    TIMEOUT,
  );
});
