// The OpenAPIHono factory every admin route file uses: invalid input becomes a 422 problem naming
// each bad field. Authentication is applied once, by worker/routes/admin.ts, to all of them.

import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { Env } from "../env.js";
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

/** A domain from a path or query value (percent-decoded, normalised), or a 422 problem naming `what`. */
export function domainParam(raw: string, what: string): Domain {
  const d = normalizeDomain(decodeURIComponent(raw));
  if (!d) throw new ProblemError(422, "Invalid domain", `${what} '${raw}' is not a domain name`);
  return d;
}
