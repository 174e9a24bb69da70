// The OpenAPIHono factory every admin route file uses: invalid input becomes a 422 problem naming
// each bad field. Authentication is applied once, by worker/routes/admin.ts, to all of them.

import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import type { Env } from "../../durable-objects/env.js";
import { ProblemError } from "../problem.js";
import { normalizeDomain, type Domain } from "../../src/types.js";

export type AdminEnv = { Bindings: Env };

export function adminApp(): OpenAPIHono<AdminEnv> {
  const app = new OpenAPIHono<AdminEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        const where = result.target === "json" ? "body" : result.target;
        const detail = result.error.issues
          .map((i) => `${[where, ...i.path.map(String)].join(".")}: ${i.message}`)
          .join("; ");
        throw new ProblemError(422, "Invalid request", detail);
      }
    },
  });
  return app;
}

/** Who did it, for the audit log: the admin token is one identity; X-Admin-Actor names the person. */
export function actor(c: Context): string {
  const who = c.req.header("x-admin-actor")?.trim();
  return who && /^[\w.@ -]{1,64}$/.test(who) ? `admin:${who}` : "admin";
}

export const security = [{ Bearer: [] }];

/**
 * A domain from a path or query value, or a 422 problem naming `what`. Hono has percent-decoded the
 * value once already; decoding again would turn `%2525` into `%` and `%25` into a URIError (issue 10.9).
 */
export function domainParam(raw: string, what: string): Domain {
  const d = normalizeDomain(raw);
  if (!d) throw new ProblemError(422, "Invalid domain", `${what} '${raw}' is not a domain name`);
  return d;
}

/**
 * Every path segment must be percent-encoded UTF-8 (RFC 3986 §2.1, RFC 3629): Hono leaves a segment
 * it cannot decode (`%C0%AF`, an overlong '/'; `%FF`) as it came, so it is refused here with 400
 * naming it, before any route sees a value that was never decoded.
 */
export const wellFormedPath: MiddlewareHandler = async (c, next) => {
  for (const segment of new URL(c.req.url).pathname.split("/")) {
    try {
      decodeURIComponent(segment);
    } catch {
      const shown = segment.length > 100 ? `${segment.slice(0, 100)}...` : segment;
      throw new ProblemError(400, "Malformed path", `path segment '${shown}' is not percent-encoded UTF-8`);
    }
  }
  await next();
};
