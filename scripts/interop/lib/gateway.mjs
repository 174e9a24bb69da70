// The TCP ingress gateway (gateway/) as its own process for interop runs, in front of the edge on
// the run's gateway address, with a certificate for the edge's domain from the run's test CA.

import { join } from "node:path";
import { ROOT } from "./paths.mjs";
import { startProcess, waitForPort } from "./proc.mjs";

/**
 * opts: { dir, ip, edgeUrl, token, domains, cert: {cert, key, ca}, requireTls, env?, ports? {starttls,
 * directTls} (default 5269, 5270), resolvConf? (the run's resolv.conf: the egress, issue 12, resolves
 * peers' names through the run's dnsmasq, in a private mount namespace as the edge does) }
 */
export async function startGatewayProcess(opts) {
  const bin = join(ROOT, "node_modules", ".bin");
  const env = {
    ...process.env,
    PATH: `${bin}:${process.env.PATH}`,
    GATEWAY_HOST: opts.ip,
    GATEWAY_STARTTLS_PORT: String(opts.ports?.starttls ?? 5269),
    GATEWAY_DIRECT_TLS_PORT: String(opts.ports?.directTls ?? 5270),
    GATEWAY_EDGE_URL: opts.edgeUrl,
    GATEWAY_TOKEN: opts.token,
    GATEWAY_DOMAINS: opts.domains.join(","),
    GATEWAY_CERT: opts.cert.cert,
    GATEWAY_KEY: opts.cert.key,
    GATEWAY_CA: opts.cert.ca,
    GATEWAY_REQUIRE_TLS: String(opts.requireTls),
    GATEWAY_LOG_LEVEL: "debug",
    // As `npm run gateway`: no TLS 1.3 session tickets (gateway/openssl.cnf).
    NODE_OPTIONS: `--openssl-config=${join(ROOT, "gateway", "openssl.cnf")}`,
    ...opts.env,
  };
  const cmd = opts.resolvConf
    ? ["unshare", ["-m", "--propagation", "private", "sh", "-c", `mount --bind "$1" /etc/resolv.conf && shift && exec "$@"`, "sh", opts.resolvConf, join(bin, "tsx"), join(ROOT, "gateway", "main.ts")]]
    : [join(bin, "tsx"), [join(ROOT, "gateway", "main.ts")]];
  const proc = startProcess(cmd[0], cmd[1], { logFile: join(opts.dir, "gateway.log"), env, cwd: ROOT });
  await waitForPort(opts.ip, opts.ports?.starttls ?? 5269, { proc, timeoutMs: 30_000 });
  return { proc, stop: () => proc.stop(), log: join(opts.dir, "gateway.log") };
}
