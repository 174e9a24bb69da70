// Issue 13, the admin API contract: a stale If-Match is 412 (RFC 9110 §13.1.1); the OpenAPI document
// declares what the API really answers (operationIds, tags, 400/401/403/412/415/500/503 problems, the
// ETag and WWW-Authenticate headers); real responses validate against the published schemas (a
// JSON Schema validator over /admin/v1/openapi.json, not our zod); query parameters a route does not
// take, repeated or empty are 400 problem+json.
import { Validator, type Schema } from "@cfworker/json-schema";
import { beforeAll, describe, expect, it } from "vitest";
import { admin, problemOf } from "./admin-helpers.js";

interface Operation {
  operationId?: string;
  tags?: string[];
  parameters?: { name: string; in: string }[];
  requestBody?: unknown;
  responses: Record<string, { headers?: Record<string, unknown>; content?: Record<string, { schema: Schema }> }>;
}
interface Doc {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

const DOC_URI = "https://edge.test/admin/v1/openapi.json";
let doc: Doc;

beforeAll(async () => {
  doc = await (await admin("/openapi.json")).json<Doc>();
});

/** Validates `body` against the published schema of `METHOD path` for `status`, refs resolved in the document. */
function check(method: string, path: string, status: number, body: unknown): string[] {
  const op = doc.paths[path]?.[method.toLowerCase()];
  expect(op, `${method} ${path} in the document`).toBeDefined();
  const response = op!.responses[String(status)];
  expect(response, `${method} ${path} declares ${status}`).toBeDefined();
  const [type] = Object.keys(response!.content ?? {});
  const pointer = `#/paths/${path.replaceAll("~", "~0").replaceAll("/", "~1")}/${method.toLowerCase()}/responses/${status}/content/${type!.replaceAll("/", "~1")}/schema`;
  const v = new Validator({ $ref: `${DOC_URI}${pointer}` }, "2020-12", false);
  v.addSchema(doc as unknown as Schema, DOC_URI);
  const r = v.validate(body);
  return r.errors.map((e) => `${e.instanceLocation} ${e.error}`);
}

const operations = () => Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method, op })));

describe("the OpenAPI document", () => {
  it("gives every operation a unique operationId and tags", () => {
    const ids = operations().map(({ op }) => op.operationId);
    expect(ids.every((id) => typeof id === "string" && /^[a-z][A-Za-z0-9]+$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { path, method, op } of operations()) expect(op.tags?.length, `${method} ${path}`).toBeGreaterThan(0);
    expect(doc.paths["/policy"]!.put!.operationId).toBe("replacePolicy");
    expect(doc.paths["/sessions"]!.get!.tags).toEqual(["state"]);
  });

  it("declares 400, 401, 403, 500 and 503 everywhere, 413/415 with a body, 412 with If-Match, as problem+json", () => {
    for (const { path, method, op } of operations()) {
      const where = `${method} ${path}`;
      for (const s of ["400", "401", "403", "500", "503"]) {
        expect(op.responses[s]?.content?.["application/problem+json"], `${where} ${s}`).toBeDefined();
      }
      if (op.requestBody) for (const s of ["413", "415"]) expect(op.responses[s], `${where} ${s}`).toBeDefined();
      if (op.parameters?.some((p) => p.in === "header" && p.name === "if-match")) expect(op.responses["412"], `${where} 412`).toBeDefined();
      expect(op.responses["409"], `${where} has no 409`).toBeUndefined();
      for (const s of ["401", "403"]) expect(op.responses[s]!.headers?.["WWW-Authenticate"], `${where} ${s} WWW-Authenticate`).toBeDefined();
    }
    expect(doc.paths["/policy"]!.patch!.responses["412"]).toBeDefined();
  });

  it("declares the ETag header on the policy's answers", () => {
    expect(doc.paths["/policy"]!.get!.responses["200"]!.headers?.ETag).toBeDefined();
    expect(doc.paths["/policy"]!.put!.responses["200"]!.headers?.ETag).toBeDefined();
    expect(doc.paths["/policy/domains/{domain}"]!.put!.responses["201"]!.headers?.ETag).toBeDefined();
    expect(doc.paths["/policy/domains/{domain}"]!.delete!.responses["200"]!.headers?.ETag).toBeDefined();
  });
});

describe("responses validate against the published schemas", () => {
  it("RuleChange with rule null (DELETE of a rule), and with a rule (PUT)", async () => {
    const put = await admin("/policy/domains/contract.example", { method: "PUT", json: { action: "allow", level: "verified" } });
    expect(put.status).toBe(201);
    expect(check("PUT", "/policy/domains/{domain}", 201, await put.json())).toEqual([]);
    const del = await admin("/policy/domains/contract.example", { method: "DELETE" });
    expect(del.status).toBe(200);
    const body = await del.json<{ rule: unknown }>();
    expect(body.rule).toBeNull();
    expect(check("DELETE", "/policy/domains/{domain}", 200, body)).toEqual([]);
  });

  it("the validator does refuse a body that breaks the schema", () => {
    expect(check("DELETE", "/policy/domains/{domain}", 200, { pattern: "x", rule: "nope", version: "1" })).not.toEqual([]);
  });

  it("GET /policy, GET /sessions, GET /pairs, GET /audit, and a problem", async () => {
    for (const [path, status] of [["/policy", 200], ["/sessions", 200], ["/pairs", 200], ["/audit", 200]] as const) {
      const res = await admin(path);
      expect(res.status).toBe(status);
      expect(check("GET", path, status, await res.json()), path).toEqual([]);
    }
    const stale = await admin("/policy", { method: "PATCH", headers: { "if-match": '"999999"' }, json: {} });
    expect(stale.status).toBe(412);
    expect(check("PATCH", "/policy", 412, await stale.json())).toEqual([]);
  });
});

describe("query parameters", () => {
  it.each([
    ["/sessions?direction=", "Unknown query parameter", "GET /admin/v1/sessions has no query parameter 'direction'; it takes cursor, limit"],
    ["/sessions?limit=5&limit=6", "Repeated query parameter", "query parameter 'limit' is given more than once"],
    ["/pairs?direction=", "Empty query parameter", "query parameter 'direction' is empty; leave it out instead"],
    ["/pairs?state=valid&sate=valid", "Unknown query parameter", "GET /admin/v1/pairs has no query parameter 'sate'; it takes local, remote, direction, state, cursor, limit"],
    ["/policy?level=open", "Unknown query parameter", "GET /admin/v1/policy has no query parameter 'level'; it takes none"],
  ])("%s is 400 problem+json", async (path, title, detail) => {
    const res = await admin(path);
    expect(res.status).toBe(400);
    const p = await problemOf(res);
    expect(p.title).toBe(title);
    expect(p.detail).toBe(detail);
  });

  it("the parameters a route takes still work", async () => {
    expect((await admin("/pairs?direction=inbound&limit=5")).status).toBe(200);
    expect((await admin("/sessions?limit=1")).status).toBe(200);
  });
});
