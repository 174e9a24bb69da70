// Worker entry: routes only. Each area lives in its own file under worker/routes/.

import { Hono } from "hono";
import type { Env } from "./env.js";
import { onError } from "./problem.js";
import { rootRoutes } from "./routes/root.js";

export { StreamSession } from "../durable-objects/stream-session.js";
export { RemoteDomain } from "../durable-objects/remote-domain.js";
export { ControlPlane } from "../durable-objects/control-plane.js";

const app = new Hono<{ Bindings: Env }>();
app.onError(onError);
app.route("/", rootRoutes);

export default app;
