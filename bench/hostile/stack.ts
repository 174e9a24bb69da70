// The hostile bench's stack, inside the bench's own network namespace (hostile.bench.ts): the edge
// under `wrangler dev` (bundled once, EDGE_ENV=production so outbound address rules apply), the TCP
// gateway in front of it on 127.0.0.1:5269 (plaintext allowed, so the legitimate peer's features
// come from the edge) and 5270 (direct TLS), the harness peer "peer.test" (the legitimate peer, its
// own Authoritative Server, and the receiver of API stanzas), and the world of world.ts.
// Every process is started and stopped by PID (scripts/interop/lib/proc.mjs).

import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { selfSignedFor } from "../../gateway/dev-cert.js";
import { startEdge } from "../../scripts/interop/lib/edge.mjs";
import { startGatewayProcess } from "../../scripts/interop/lib/gateway.mjs";
import { ROOT } from "../../scripts/interop/lib/paths.mjs";
import { startHarness, type RunningHarness } from "../../test/harness/server.js";
import { startDoh, startHook, startSink, type Doh, type Hook, type Sink } from "./world.js";

export const EDGE_DOMAIN = "edge.test";
export const PEER_DOMAIN = "peer.test";
export const HARNESS_SECRET = "hostile-bench-harness-secret-0001";
/** Source addresses: the legitimate peer and the attacker are different hosts (per-IP limits). */
export const LEGIT_IP = "127.0.0.10";
export const ATTACKER_IP = "127.0.0.66";
export const GATEWAY_HOST = "127.0.0.1";
/** A "public" address on the namespace's loopback: where the *.evil.test authorities answer (tarpit). */
export const PUBLIC_TARPIT = "11.22.33.44";
export const MAX_STANZA_BYTES = 262_144;

export interface Proc {
  pid: number;
  running: boolean;
  stop(graceMs?: number): Promise<void>;
}

export interface HostileStack {
  dir: string;
  edgeUrl: string;
  wsUrl: string;
  edgeSecret: string;
  tokens: { admin: string; app: string; gateway: string };
  edgeProc: Proc;
  /** wrangler's DevTools inspector proxy to the Worker's isolate (bench/interop/profile.ts). */
  /** With HOSTILE_HEAP=1 only (wrangler's DevTools inspector). */
  edgeInspectorPort: number | undefined;
  gatewayProc: Proc;
  harness: RunningHarness;
  doh: Doh;
  hook: Hook;
  /** Where attackers' SRV records point: refused addresses (loopback, link-local/metadata) and a public tarpit. */
  sinks: { loopback: Sink; metadata: Sink; metadataS2s: Sink; loopback6: Sink | undefined; tarpit: Sink };
  api(path: string, init?: RequestInit, token?: string): Promise<Response>;
  stop(): Promise<void>;
}

const hex = () => randomBytes(24).toString("hex");

export async function startHostileStack(): Promise<HostileStack> {
  const dir = join(ROOT, ".bench", `hostile-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => {});
  };
  try {
    const harness = await startHarness(PEER_DOMAIN, HARNESS_SECRET, { s2s: 0, uplink: 0, control: 0 });
    stops.push(() => harness.close());
    // peer.test accepts the edge's db:result at once (its own verification is not what is measured).
    harness.peer.config.verify = "valid";
    const doh = await startDoh("127.0.0.1");
    stops.push(() => doh.close());
    const hook = await startHook("127.0.0.1");
    stops.push(() => hook.close());
    const sinks = {
      loopback: await startSink("127.0.0.1", 9996),
      metadata: await startSink("169.254.169.254", 80),
      metadataS2s: await startSink("169.254.169.254", 5269),
      loopback6: await startSink("::1", 9996).catch(() => undefined),
      tarpit: await startSink(PUBLIC_TARPIT, 5269),
    };
    for (const s of Object.values(sinks)) if (s) stops.push(() => s.close());

    const cert = await selfSignedFor([EDGE_DOMAIN]);
    const certFile = join(dir, "gateway-cert.pem");
    const keyFile = join(dir, "gateway-key.pem");
    writeFileSync(certFile, cert.cert);
    writeFileSync(keyFile, cert.key);
    const tokens = { admin: hex(), app: hex(), gateway: hex() };
    const edgeSecret = hex();
    const edge = await startEdge({
      dir: join(dir, "edge"),
      caFile: certFile,
      logLevel: process.env.HOSTILE_EDGE_LOG ?? "warn",
      // HOSTILE_HEAP=1 reads the Worker's JS heap through wrangler's DevTools inspector.
      devtools: process.env.HOSTILE_HEAP === "1",
      vars: {
        EDGE_ENV: "production",
        EDGE_DOMAINS: EDGE_DOMAIN,
        DIALBACK_SECRET: edgeSecret,
        ADMIN_TOKEN: tokens.admin,
        APP_TOKEN: tokens.app,
        GATEWAY_TOKEN: tokens.gateway,
        S2S_STATIC_ROUTES: `${PEER_DOMAIN}=127.0.0.1:${harness.ports.s2s}`,
        DOH_URL: doh.url,
        DELIVERY_WEBHOOK_URL: hook.url,
      },
    });
    stops.push(() => edge.stop());
    const gateway = await startGatewayProcess({
      dir, ip: GATEWAY_HOST, edgeUrl: edge.url.replace(/^http/, "ws") + "/xmpp-s2s", token: tokens.gateway,
      domains: [EDGE_DOMAIN], cert: { cert: certFile, key: keyFile, ca: certFile }, requireTls: false,
      env: { GATEWAY_LOG_LEVEL: "warn" },
    });
    stops.push(() => gateway.stop());
    const api = (path: string, init: RequestInit = {}, token = tokens.app) =>
      fetch(edge.url + path, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) } });
    return {
      dir, edgeUrl: edge.url, wsUrl: edge.url.replace(/^http/, "ws") + "/xmpp-s2s", edgeSecret, tokens,
      edgeProc: edge.proc as Proc, edgeInspectorPort: edge.inspectorPort as number | undefined, gatewayProc: gateway.proc as Proc, harness, doh, hook, sinks, api, stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
