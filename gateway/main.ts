// Entry point: `tsx gateway/main.ts` (or `npm run gateway`). Reads the environment (gateway/README.md),
// listens, and on SIGTERM/SIGINT closes every stream with system-shutdown before exiting.

import { GatewayConfigError, loadGatewayConfig } from "./config.js";
import { jsonLogger, type Level } from "./log.js";
import { startGateway } from "./server.js";

const log = jsonLogger((process.env.GATEWAY_LOG_LEVEL as Level | undefined) ?? "info");
let config;
try {
  config = loadGatewayConfig(process.env);
} catch (e) {
  if (!(e instanceof GatewayConfigError)) throw e;
  log.log("error", "bad configuration", { variable: e.variable, error: e.message });
  process.exit(2);
}
const gateway = await startGateway(config, log);
let stopping = false;
for (const sig of ["SIGTERM", "SIGINT"] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    log.log("info", "signal", { signal: sig });
    void gateway.close().then(() => process.exit(0));
  });
}
