// The application API (bearer APP_TOKEN): submit stanzas to remote domains and read the default local
// app's inbox. The same send path is an RPC method on the EdgeApi entrypoint (worker/entrypoint.ts).

import { Hono, type Context } from "hono";
import { edgeConfig } from "../../durable-objects/lib/config.js";
import type { Env } from "../../durable-objects/env.js";
import { ProblemError } from "../problem.js";
import { safeEqual } from "../../durable-objects/lib/connection-info.js";
import { sendStanza } from "../../durable-objects/lib/send.js";
import { localAppStub } from "../../durable-objects/lib/stubs.js";

export const apiRoutes = new Hono<{ Bindings: Env }>();

async function authorize(c: Context<{ Bindings: Env }>): Promise<void> {
  const config = await edgeConfig(c.env);
  if (!config.appToken) throw new ProblemError(503, "Application API disabled", "APP_TOKEN is not configured on this edge");
  const m = /^Bearer (.+)$/.exec(c.req.header("authorization") ?? "");
  // RFC 6750 §3: a missing or wrong token gets 401 with a WWW-Authenticate challenge.
  if (!m || !safeEqual(m[1]!, config.appToken)) {
    throw new ProblemError(401, "Unauthorized", m ? "wrong bearer token" : "Authorization: Bearer <APP_TOKEN> is required", {
      "www-authenticate": `Bearer realm="api"${m ? ', error="invalid_token"' : ""}`,
    });
  }
}

apiRoutes.use("/api/v1/*", async (c, next) => {
  await authorize(c);
  await next();
});

apiRoutes.post("/api/v1/stanzas", async (c) => {
  const result = await sendStanza(c.env, await c.req.text());
  if (!result.ok) throw new ProblemError(result.status, result.status === 413 ? "Stanza too large" : "Invalid stanza", result.detail);
  return c.json({ id: result.id, to: result.to, status: "queued" }, 202);
});

apiRoutes.get("/api/v1/inbox", async (c) => {
  const limit = Number(c.req.query("limit") ?? "50");
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new ProblemError(422, "Invalid limit", "limit must be an integer from 1 to 500");
  const items = await localAppStub(c.env).list(limit);
  return c.json({ items });
});
