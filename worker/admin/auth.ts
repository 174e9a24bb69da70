// Bearer authentication for /admin/v1 (RFC 6750). Tokens are compared as SHA-256 digests in
// constant time, so neither the content nor the length of ADMIN_TOKEN leaks through timing.
// Without ADMIN_TOKEN the API is refused, never open. METRICS_TOKEN (issue 13) reads GET /metrics
// and nothing else: a scraper must not hold the admin token. Anywhere else it is 403
// insufficient_scope (RFC 6750 §3.1), so the scraper's operator sees the token is right but too weak.

import type { MiddlewareHandler } from "hono";
import type { Env } from "../../durable-objects/env.js";
import { edgeConfig } from "../../durable-objects/lib/config.js";
import { ProblemError } from "../problem.js";
import { constantTimeEqual } from "../../src/dialback/keys.js";
import { toHex } from "../../src/types.js";

const enc = new TextEncoder();
const digest = async (s: string) => toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", enc.encode(s))));

const CHALLENGE = 'Bearer realm="dialback-edge admin"';

/** What METRICS_TOKEN may read: the Prometheus exposition only. */
const METRICS_PATH = "/admin/v1/metrics";

export const requireAdmin: MiddlewareHandler<{ Bindings: Env }> = async (c, next) => {
  const { adminToken, metricsToken } = await edgeConfig(c.env);
  if (!adminToken && !(metricsToken && new URL(c.req.url).pathname === METRICS_PATH)) {
    throw new ProblemError(503, "Admin API disabled", "ADMIN_TOKEN is not set; set it (wrangler secret put ADMIN_TOKEN) to enable /admin/v1");
  }
  const header = c.req.header("authorization") ?? "";
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  if (!m) {
    throw new ProblemError(401, "Unauthorized", header ? "the Authorization header is not 'Bearer <token>'" : "an Authorization: Bearer <ADMIN_TOKEN> header is required", {
      "WWW-Authenticate": CHALLENGE,
    });
  }
  const presented = await digest(m[1]!);
  // Both comparisons always run, so timing does not tell which token was close.
  const isAdmin = constantTimeEqual(presented, await digest(adminToken ?? ""));
  const isMetrics = constantTimeEqual(presented, await digest(metricsToken ?? ""));
  if (adminToken && isAdmin) return next();
  if (metricsToken && isMetrics) {
    const path = new URL(c.req.url).pathname;
    if (path === METRICS_PATH && (c.req.method === "GET" || c.req.method === "HEAD")) return next();
    throw new ProblemError(403, "Forbidden", `the metrics token reads GET ${METRICS_PATH} only; ${c.req.method} ${path} needs the admin token`, {
      "WWW-Authenticate": `${CHALLENGE}, error="insufficient_scope", scope="admin"`,
    });
  }
  const onMetrics = metricsToken && new URL(c.req.url).pathname === METRICS_PATH;
  throw new ProblemError(401, "Unauthorized", onMetrics ? "the bearer token is neither the admin token nor the metrics token" : "the bearer token is not the admin token", {
    "WWW-Authenticate": `${CHALLENGE}, error="invalid_token"`,
  });
};
