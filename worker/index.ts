// Worker entry: routes only. Each area lives in its own file under worker/routes/.

import { Hono } from "hono";
import type { Env } from "../durable-objects/env.js";
import { onError } from "./problem.js";
import { edgeConfig } from "../durable-objects/lib/config.js";
import { rootRoutes } from "./routes/root.js";
import { s2sRoutes } from "./routes/s2s.js";
import { wellKnownRoutes } from "./routes/well-known.js";
import { apiRoutes } from "./routes/api.js";
import { adminRoutes } from "./routes/admin.js";
import { consoleRoutes } from "./routes/console.js";

export { StreamSession } from "../durable-objects/stream-session.js";
export { RemoteDomain } from "../durable-objects/remote-domain.js";
export { ControlPlane } from "../durable-objects/control-plane.js";
export { LocalApp } from "../durable-objects/local-app.js";
export { VerifyBudget } from "../durable-objects/verify-budget.js";
export { PeerAddress } from "../durable-objects/peer-address.js";
export { AuthorityLink } from "../durable-objects/authority-link.js";
export { EdgeApi } from "./entrypoint.js";

const app = new Hono<{ Bindings: Env }>();
app.onError(onError);
// Every request, routes without configuration included, first needs a valid configuration: a bad one
// answers 503 (worker/problem.ts) on every path, so the edge never half-works.
app.use("*", async (c, next) => {
  await edgeConfig(c.env);
  await next();
});
app.route("/", rootRoutes);
app.route("/", s2sRoutes);
app.route("/", wellKnownRoutes);
app.route("/", apiRoutes);
app.route("/admin/v1", adminRoutes);
app.route("/", consoleRoutes);

export default app;
