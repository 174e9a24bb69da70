// A whole interop run: the peers (topology.mjs), the edge under wrangler dev, and the gateway in
// front of it, wired so that Prosody and ejabberd reach edge.test through DNS SRV -> gateway -> edge,
// and the edge reaches them through S2S_STATIC_ROUTES.

import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { startEdge } from "./edge.mjs";
import { startGatewayProcess } from "./gateway.mjs";
import { DOMAINS, startTopology } from "./topology.mjs";

const hex = () => randomBytes(32).toString("hex");

/**
 * opts: topology options plus { edgeVars?: extra edge variables, routeHostOf?: (vhost) => route host,
 * egress?: "gateway" | "auto" (issue 12: S2S_EGRESS, through the run's gateway's egress port 5271),
 * edgeDevtools?: true (wrangler's DevTools inspector for the edge: heap figures and profiles) }
 */
export async function startStack(opts = {}) {
  // The farm's Prosody nodes share the edge's dialback secret (seed 004).
  const secret = opts.edgeVars?.DIALBACK_SECRET ?? hex();
  const topo = await startTopology({ ...opts, ...(opts.farm ? { farmSecret: secret } : {}) });
  const extra = [];
  const stop = async () => {
    for (const s of extra.reverse()) await s.stop().catch(() => {});
    await topo.stop();
  };
  try {
    const tokens = { admin: hex(), app: hex(), gateway: hex() };
    // By name, not address: workerd resolves them through the run's dnsmasq, and connect() checks the
    // peer's certificate against the name it dialled (it has no expectedServerHostname).
    const routes = [
      `${DOMAINS.prosody}=${DOMAINS.prosody}:5269`,
      `${DOMAINS.prosodyDenied}=${DOMAINS.prosodyDenied}:5269`,
      `${DOMAINS.ejabberd}=${DOMAINS.ejabberd}:5269`,
      `${DOMAINS.sink}=${DOMAINS.sink}:5269`,
      `${DOMAINS.jabberd2}=${DOMAINS.jabberd2}:5269`,
      // routeHostOf: the host a Prosody vhost's route names (default: the vhost's own name, as with no
      // SRV record; the name of the Prosody's host, as an SRV record of a multi-vhost server names it).
      ...(opts.prosodyExtraHosts ?? []).map((h) => `${h}=${opts.routeHostOf?.(h) ?? h}:5269`),
      ...(opts.extraRoutes ?? []),
    ].join(",");
    const edgeDir = join(topo.dir, "edge");
    mkdirSync(edgeDir, { recursive: true });
    const edge = await startEdge({
      dir: edgeDir,
      caFile: topo.ca,
      resolvConf: topo.dns.resolvConf,
      devtools: opts.edgeDevtools === true,
      vars: {
        EDGE_DOMAINS: opts.farm ? `${DOMAINS.edge},${DOMAINS.farm}` : DOMAINS.edge,
        DIALBACK_SECRET: secret,
        ADMIN_TOKEN: tokens.admin,
        APP_TOKEN: tokens.app,
        GATEWAY_TOKEN: tokens.gateway,
        S2S_STATIC_ROUTES: routes,
        ...(opts.egress ? { S2S_EGRESS: opts.egress, GATEWAY_EGRESS_URL: `ws://${topo.ip.gateway}:5271/egress` } : {}),
        ...opts.edgeVars,
      },
    });
    extra.push(edge);
    const gateway = await startGatewayProcess({
      dir: topo.dir, ip: topo.ip.gateway, edgeUrl: edge.url.replace(/^http/, "ws") + "/xmpp-s2s",
      token: tokens.gateway, domains: opts.farm ? [DOMAINS.edge, DOMAINS.farm] : [DOMAINS.edge], cert: topo.certs.edge, requireTls: !!opts.tls,
      resolvConf: topo.dns.resolvConf, env: { ...(opts.egress ? { GATEWAY_EGRESS_PORT: "5271" } : {}), ...opts.gatewayEnv },
    });
    extra.push(gateway);
    const api = (path, init = {}, token = tokens.app) =>
      fetch(edge.url + path, { ...init, headers: { authorization: `Bearer ${token}`, ...init.headers } });
    return { ...topo, edge, gateway, tokens, api, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
