// /admin/v1: the operator's API (issue 5). Every route requires Authorization: Bearer <ADMIN_TOKEN>
// (worker/admin/auth.ts), validates with the zod schemas in worker/admin/schemas.ts, and answers
// errors as RFC 9457 problem+json. GET /admin/v1/openapi.json is generated from the same schemas.

import { adminApp } from "../admin/app.js";
import { requireAdmin } from "../admin/auth.js";
import { jsonBodies } from "../admin/body.js";
import { wellFormedPath } from "../admin/app.js";
import { policyRoutes } from "../admin/policy-routes.js";
import { stateRoutes } from "../admin/state-routes.js";
import { peerRoutes } from "../admin/peer-routes.js";
import { checkRoutes } from "../admin/check-routes.js";
import { ProblemError } from "../problem.js";
import { applyContract, strictQuery, TAGS, type KnownRoute } from "../admin/contract.js";
import pkg from "../../package.json" with { type: "json" };

export const adminRoutes = adminApp();
adminRoutes.use("*", requireAdmin);
adminRoutes.use("*", wellFormedPath);
adminRoutes.use("*", strictQuery(() => known));
// `known` (below) is read per request, once every route is registered.
adminRoutes.use("*", jsonBodies((method, path) => known.some((k) => k.method === method && k.path.test(path))));

adminRoutes.openAPIRegistry.registerComponent("securitySchemes", "Bearer", {
  type: "http",
  scheme: "bearer",
  description: "ADMIN_TOKEN; METRICS_TOKEN for GET /metrics only",
});
adminRoutes.route("/", policyRoutes);
adminRoutes.route("/", stateRoutes);
adminRoutes.route("/", peerRoutes);
adminRoutes.route("/", checkRoutes);

adminRoutes.doc31("/openapi.json", {
  openapi: "3.1.0",
  info: { title: "dialback-edge admin API", version: pkg.version, description: "Federation policy (XEP-0238 levels), sessions, domain pairs, audit, diagnosis." },
  servers: [{ url: "/admin/v1" }],
  tags: TAGS,
});

// operationIds, tags, common error responses, headers; the table of routes with their query
// parameters (strictQuery above, jsonBodies, and the 404 / 405 below), from the same definitions.
// Unknown admin paths are problems too, not Hono's plain-text 404; a known path with another method
// is 405 with Allow (RFC 9110 §15.5.6).
const known: KnownRoute[] = applyContract(adminRoutes, "/admin/v1");

adminRoutes.all("*", (c) => {
  const path = new URL(c.req.url).pathname;
  const allow = [...new Set(known.filter((k) => k.path.test(path)).map((k) => k.method))];
  if (allow.length > 0) {
    throw new ProblemError(405, "Method Not Allowed", `${c.req.method} is not allowed on ${path}; use ${allow.join(", ")}`, { Allow: allow.join(", ") });
  }
  throw new ProblemError(404, "Not Found", `no admin route ${c.req.method} ${path}`);
});
