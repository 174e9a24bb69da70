// The admin API's contract, applied once every route is registered (worker/routes/admin.ts), so a
// route file cannot forget it and /admin/v1/openapi.json says what the API really answers (issue 13):
// an operationId and tags per operation; the errors every route can give, as RFC 9457 problem+json
// (400 malformed request, 401 / 403 with WWW-Authenticate per RFC 6750 §3, 413 / 415 for bodies,
// 500, 503); the ETag of policy responses; and each route's query parameters, enforced: a parameter
// the route does not take, one given twice or one left empty is 400 (it used to be ignored, so
// `/sessions?direction=` listed everything as if filtered).

import type { OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { ProblemError } from "../problem.js";
import { Problem } from "./schemas.js";

/** operationId and tag of each operation, by "METHOD path" (paths as in the OpenAPI document). */
const OPERATIONS: Record<string, [operationId: string, tag: string]> = {
  "GET /policy": ["getPolicy", "policy"],
  "PUT /policy": ["replacePolicy", "policy"],
  "PATCH /policy": ["patchPolicy", "policy"],
  "GET /policy/domains/{domain}": ["getDomainRule", "policy"],
  "PUT /policy/domains/{domain}": ["putDomainRule", "policy"],
  "DELETE /policy/domains/{domain}": ["deleteDomainRule", "policy"],
  "GET /pairs": ["listPairs", "state"],
  "GET /pairs/{local}/{remote}": ["getPair", "state"],
  "DELETE /pairs/{local}/{remote}": ["revokePair", "state"],
  "GET /sessions": ["listSessions", "state"],
  "GET /sessions/{id}": ["getSession", "state"],
  "DELETE /sessions/{id}": ["closeSession", "state"],
  "GET /audit": ["listAudit", "audit"],
  "GET /metrics": ["getMetrics", "metrics"],
  "GET /peers/{domain}": ["getPeer", "peers"],
  "POST /peers/{domain}/check": ["checkPeer", "peers"],
  "DELETE /peers/{domain}/sessions": ["closePeerSessions", "peers"],
  "POST /dialback/verify": ["verifyDialbackKey", "dialback"],
  "GET /check": ["selfCheck", "diagnosis"],
};

export const TAGS = [
  { name: "policy", description: "Federation policy (XEP-0238 levels), versioned with ETag / If-Match" },
  { name: "state", description: "Live sessions and domain pairs; revoking and closing them" },
  { name: "peers", description: "One remote domain: what the edge knows, a live check, closing its streams" },
  { name: "audit", description: "Who changed what" },
  { name: "metrics", description: "Prometheus exposition (ADMIN_TOKEN or METRICS_TOKEN)" },
  { name: "dialback", description: "The Authoritative Server over HTTP" },
  { name: "diagnosis", description: "Self-check" },
];

const problem = (description: string, headers?: Record<string, { description: string; schema: { type: "string" } }>) => ({
  description,
  content: { "application/problem+json": { schema: Problem } },
  ...(headers ? { headers } : {}),
});
const wwwAuthenticate = {
  "WWW-Authenticate": { description: 'RFC 6750 §3 challenge, e.g. Bearer realm="dialback-edge admin", error="invalid_token"', schema: { type: "string" as const } },
};
const etag = { ETag: { description: 'the policy version, e.g. "3"; send it back in If-Match', schema: { type: "string" as const } } };

const COMMON = {
  400: problem("malformed request: a path segment that is not percent-encoded UTF-8, a query parameter the route does not take, given twice or empty, malformed or too deeply nested JSON"),
  401: problem("missing or wrong bearer token", wwwAuthenticate),
  403: problem('the metrics token on a route other than GET /metrics (error="insufficient_scope")', wwwAuthenticate),
  500: problem("internal error"),
  503: problem("the admin API is disabled (ADMIN_TOKEN unset), or the edge's configuration is invalid (see the Worker's logs)"),
};
const BODY = {
  413: problem("the request body exceeds 1 MiB"),
  415: problem("the request body is not application/json (or application/merge-patch+json for PATCH)"),
};

/** The camelCase operationId a route gets when the table above does not name it. */
function derivedOperationId(method: string, path: string): string {
  const words = path.split("/").filter(Boolean).map((s) => s.replace(/[{}]/g, ""));
  return [method.toLowerCase(), ...words].map((w, i) => (i === 0 ? w : w.charAt(0).toUpperCase() + w.slice(1))).join("").replace(/[^A-Za-z0-9]/g, "");
}

interface RouteLike {
  method: string;
  path: string;
  operationId?: string;
  tags?: string[];
  request?: { query?: { shape?: Record<string, unknown> }; body?: unknown; headers?: { shape?: Record<string, unknown> } };
  responses: Record<string, { headers?: Record<string, unknown> } & Record<string, unknown>>;
}

export interface KnownRoute {
  method: string;
  path: RegExp;
  query: string[];
}

/** Completes every route's definition; returns the routing table (method, path, query parameters). */
export function applyContract(app: OpenAPIHono<any>, base: string): KnownRoute[] {
  const known: KnownRoute[] = [];
  for (const d of app.openAPIRegistry.definitions) {
    if (d.type !== "route") continue;
    const r = d.route as unknown as RouteLike;
    const key = `${r.method.toUpperCase()} ${r.path}`;
    const [operationId, tag] = OPERATIONS[key] ?? [derivedOperationId(r.method, r.path), r.path.split("/")[1] ?? "admin"];
    r.operationId ??= operationId;
    r.tags ??= [tag];
    const extra: Record<string, unknown> = { ...COMMON, ...(r.request?.body ? BODY : {}) };
    for (const [status, response] of Object.entries(extra)) r.responses[status] ??= response as RouteLike["responses"][string];
    for (const status of ["401", "403"]) r.responses[status] = { ...r.responses[status], headers: wwwAuthenticate };
    if (r.path.startsWith("/policy")) {
      for (const status of ["200", "201"]) if (r.responses[status]) r.responses[status] = { ...r.responses[status], headers: etag };
    }
    known.push({
      method: r.method.toUpperCase(),
      path: new RegExp(`^${base}${r.path.replace(/\{[^}]+\}/g, "[^/]+")}$`),
      query: Object.keys(r.request?.query?.shape ?? {}),
    });
  }
  return known;
}

/**
 * Each query parameter must be one the route takes, given once, with a value: a typo or an empty
 * filter must not silently widen the answer. Paths no route matches are left to the 404 / 405 handler.
 */
export function strictQuery(table: () => KnownRoute[]): MiddlewareHandler {
  return async (c, next) => {
    const url = new URL(c.req.url);
    const method = c.req.method === "HEAD" ? "GET" : c.req.method;
    const route = table().find((k) => k.method === method && k.path.test(url.pathname));
    if (route) {
      const seen = new Set<string>();
      for (const [name, value] of url.searchParams) {
        const takes = route.query.length ? `it takes ${route.query.join(", ")}` : "it takes none";
        if (!route.query.includes(name)) throw new ProblemError(400, "Unknown query parameter", `${method} ${url.pathname} has no query parameter '${name}'; ${takes}`);
        if (seen.has(name)) throw new ProblemError(400, "Repeated query parameter", `query parameter '${name}' is given more than once`);
        if (value === "") throw new ProblemError(400, "Empty query parameter", `query parameter '${name}' is empty; leave it out instead`);
        seen.add(name);
      }
    }
    await next();
  };
}
