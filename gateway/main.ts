// Entry point: `node gateway/dist/main.js` once built (`npm run gateway:build`), or `npm run gateway`
// (tsx) in development. Reads the environment (gateway/README.md), listens; on SIGHUP re-reads
// GATEWAY_CERT / GATEWAY_KEY / GATEWAY_CA for new handshakes (streams up stay up); on SIGTERM/SIGINT
// closes every stream with system-shutdown before exiting.

import { X509Certificate } from "node:crypto";

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

/** What an operator checks after a renewal: whose certificate, until when. */
function certificateFacts(pem: string) {
  try {
    const c = new X509Certificate(pem);
    return { subject: c.subject.replace(/\n/g, ", "), subjectAltName: c.subjectAltName, validTo: c.validTo, fingerprint256: c.fingerprint256 };
  } catch {
    return {};
  }
}

// SIGHUP: reload the certificate files (certbot's deploy hook, `systemctl reload`). The whole
// configuration is read again so a broken file is reported as at start, but only the TLS material
// changes; anything else needs a restart.
process.on("SIGHUP", () => {
  try {
    const fresh = loadGatewayConfig(process.env);
    gateway.reloadTls(fresh);
    log.log("info", "certificate reloaded", { connections: gateway.connections(), ...certificateFacts(fresh.cert) });
  } catch (e) {
    const detail = e instanceof GatewayConfigError ? { variable: e.variable, error: e.message } : { error: (e as Error).message };
    log.log("error", "certificate reload failed; the previous certificate stays in use", detail);
  }
});
let stopping = false;
for (const sig of ["SIGTERM", "SIGINT"] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    log.log("info", "signal", { signal: sig });
    void gateway.close().then(() => process.exit(0));
  });
}
