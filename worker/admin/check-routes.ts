// GET /admin/v1/check: the self-check (worker/admin/self-check.ts), like `prosodyctl check`.

import { createRoute, z } from "@hono/zod-openapi";
import { adminApp, security } from "./app.js";
import { controlPlane } from "./control.js";
import { problemResponse } from "./schemas.js";
import { selfCheck } from "./self-check.js";
import { edgeConfig } from "../../durable-objects/lib/config.js";

export const checkRoutes = adminApp();

const Finding = z
  .object({
    id: z.string().describe("what was checked: srv, gateway, host-meta, doh, secret.<NAME>, secret.reused, policy"),
    severity: z.enum(["ok", "warning", "error"]),
    domain: z.string().optional().describe("the hosted domain the finding is about"),
    message: z.string(),
    fix: z.string().describe("what to do about it (empty when ok)"),
  })
  .openapi("Finding");

const SelfCheck = z
  .object({
    ok: z.boolean().describe("no finding is an error"),
    counts: z.object({ ok: z.number(), warning: z.number(), error: z.number() }),
    findings: z.array(Finding),
  })
  .openapi("SelfCheck");

checkRoutes.openapi(
  createRoute({
    method: "get",
    path: "/check",
    security,
    summary: "Self-check: per hosted domain SRV records, gateways, host-meta; DoH, secrets, policy; each finding with a severity and a fix",
    responses: {
      200: { description: "every finding, errors first", content: { "application/json": { schema: SelfCheck } } },
      401: problemResponse("missing or wrong bearer token"),
    },
  }),
  async (c) => {
    const config = await edgeConfig(c.env);
    const { document } = await controlPlane(c.env).getPolicy();
    const rank = { error: 0, warning: 1, ok: 2 } as const;
    const findings = (await selfCheck(c.env, config, document)).sort((a, b) => rank[a.severity] - rank[b.severity]);
    const counts = { ok: 0, warning: 0, error: 0 };
    for (const f of findings) counts[f.severity]++;
    return c.json({ ok: counts.error === 0, counts, findings }, 200);
  },
);
