// Bearer authentication for /admin/v1 (RFC 6750). Tokens are compared as SHA-256 digests in
// constant time, so neither the content nor the length of ADMIN_TOKEN leaks through timing.
// Without ADMIN_TOKEN the API is refused, never open.

import type { MiddlewareHandler } from "hono";
import type { Env } from "../../durable-objects/env.js";
import { edgeConfig } from "../../durable-objects/lib/config.js";
import { ProblemError } from "../problem.js";
import { constantTimeEqual } from "../../src/dialback/keys.js";
import { toHex } from "../../src/types.js";

const enc = new TextEncoder();
const digest = async (s: string) => toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", enc.encode(s))));

const CHALLENGE = 'Bearer realm="dialback-edge admin"';

export const requireAdmin: MiddlewareHandler<{ Bindings: Env }> = async (c, next) => {
  const { adminToken } = await edgeConfig(c.env);
  if (!adminToken) {
    throw new ProblemError(503, "Admin API disabled", "ADMIN_TOKEN is not set; set it (wrangler secret put ADMIN_TOKEN) to enable /admin/v1");
  }
  const header = c.req.header("authorization") ?? "";
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  if (!m) {
    throw new ProblemError(401, "Unauthorized", header ? "the Authorization header is not 'Bearer <token>'" : "an Authorization: Bearer <ADMIN_TOKEN> header is required", {
      "WWW-Authenticate": CHALLENGE,
    });
  }
  if (!constantTimeEqual(await digest(m[1]!), await digest(adminToken))) {
    throw new ProblemError(401, "Unauthorized", "the bearer token is not the admin token", {
      "WWW-Authenticate": `${CHALLENGE}, error="invalid_token"`,
    });
  }
  await next();
};
