// GET /: what this edge is and which domains it hosts. Never a secret.

import { Hono } from "hono";
import type { Env } from "../../durable-objects/env.js";
import { edgeConfig } from "../../durable-objects/lib/config.js";
import pkg from "../../package.json" with { type: "json" };

export const rootRoutes = new Hono<{ Bindings: Env }>();

rootRoutes.get("/", async (c) => {
  const config = await edgeConfig(c.env);
  return c.json({
    name: "dialback-edge",
    version: pkg.version,
    domains: config.domains,
    endpoints: { s2sWebSocket: "/xmpp-s2s", admin: "/admin/v1", api: "/api/v1" },
  });
});
