// The console tests' stack (issue 14): the edge under `wrangler dev` (bundled once, as the interop
// tier runs it: scripts/interop/lib/edge.mjs) for the hosted domain edge.test, and the harness peer
// peer.test (test/harness) as the other side of live federation. Helpers create the state the
// console shows: a verified inbound stream (peer.test dials /xmpp-s2s), an outbound stream (an API
// stanza to peer.test), and a spoofing attempt (a db:result with a forged key) in the audit log.
// Every process is started and stopped by PID.

import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type WebSocket from "ws";
import { selfSignedFor } from "../../gateway/dev-cert.js";
import { startEdge } from "../../scripts/interop/lib/edge.mjs";
import { startGatewayProcess } from "../../scripts/interop/lib/gateway.mjs";
import { freePort } from "../../scripts/interop/lib/ports.mjs";
import { ROOT } from "../../scripts/interop/lib/paths.mjs";
import { startHarness, type RunningHarness } from "../harness/server.js";
import type { Job } from "../harness/peer.js";
import { dialWebSocket } from "../harness/ws-client.js";

export const EDGE_DOMAIN = "edge.test";
export const PEER_DOMAIN = "peer.test";
const HARNESS_SECRET = "console-harness-secret-0001";

export interface ConsoleStack {
  url: string;
  adminToken: string;
  harness: RunningHarness;
  /** Admin API call with the admin token. */
  admin(path: string, init?: RequestInit): Promise<Response>;
  /** peer.test opens a stream to edge.test over WebSocket and dialback verifies it; resolves once accepted. */
  inbound(): Promise<{ job: Job; ws: WebSocket }>;
  /** peer.test opens a stream over TCP through the ingress gateway (plaintext allowed); resolves once accepted. */
  inboundGateway(): Promise<Job>;
  /** An API stanza edge.test -> peer.test: the edge dials peer.test; resolves when the stanza arrived. */
  outbound(): Promise<void>;
  /** A db:result for peer.test with a forged key: the authority says invalid (audit: spoofing-attempt). */
  spoof(): Promise<Job>;
  stop(): Promise<void>;
}

const hex = () => randomBytes(24).toString("hex");

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `port`: the edge's HTTP port, `gatewayPort` the gateway's STARTTLS port (+1: direct TLS); else free ones. */
export async function startConsoleStack(opts: { port?: number; gatewayPort?: number; name?: string } = {}): Promise<ConsoleStack> {
  const dir = join(ROOT, ".console", `${opts.name ?? "browser"}-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => {});
    stops.length = 0;
  };
  try {
    const harness = await startHarness(PEER_DOMAIN, HARNESS_SECRET, { s2s: 0, uplink: 0, control: 0 });
    stops.push(() => harness.close());
    // peer.test as Receiving Server accepts the edge's db:result at once (the edge's outbound stream).
    harness.peer.config.verify = "valid";
    // Not used for TLS here (the harness offers no STARTTLS); startEdge wants a CA file.
    const cert = await selfSignedFor([EDGE_DOMAIN]);
    const caFile = join(dir, "ca.pem");
    const keyFile = join(dir, "key.pem");
    writeFileSync(caFile, cert.cert);
    writeFileSync(keyFile, cert.key);
    const gatewayToken = hex();
    const adminToken = hex();
    const appToken = hex();
    const edge = await startEdge({
      dir: join(dir, "edge"),
      caFile,
      port: opts.port,
      logLevel: "warn",
      vars: {
        EDGE_ENV: "development",
        EDGE_DOMAINS: EDGE_DOMAIN,
        DIALBACK_SECRET: hex(),
        ADMIN_TOKEN: adminToken,
        APP_TOKEN: appToken,
        GATEWAY_TOKEN: gatewayToken,
        S2S_STATIC_ROUTES: `${PEER_DOMAIN}=127.0.0.1:${harness.ports.s2s}`,
        DOH_URL: `http://127.0.0.1:${harness.ports.control}/dns-query`,
      },
    });
    stops.push(() => edge.stop());
    const wsUrl = edge.url.replace(/^http/, "ws") + "/xmpp-s2s";
    const gatewayPort = opts.gatewayPort ?? (await freePort("127.0.0.1"));
    const gateway = await startGatewayProcess({
      dir, ip: "127.0.0.1", edgeUrl: wsUrl, token: gatewayToken, domains: [EDGE_DOMAIN],
      cert: { cert: caFile, key: keyFile, ca: caFile }, requireTls: false,
      ports: { starttls: gatewayPort, directTls: opts.gatewayPort ? opts.gatewayPort + 1 : await freePort("127.0.0.1") },
      env: { GATEWAY_LOG_LEVEL: "warn" },
    });
    stops.push(() => gateway.stop());
    const admin = (path: string, init: RequestInit = {}) =>
      fetch(edge.url + path, { ...init, headers: { authorization: `Bearer ${adminToken}`, ...(init.headers as Record<string, string>) } });
    const sockets: WebSocket[] = [];
    stops.push(async () => sockets.forEach((s) => s.terminate()));
    const peer = harness.peer;
    const originate = async () => {
      const job = peer.addJob({ kind: "originate", from: PEER_DOMAIN, to: EDGE_DOMAIN });
      const ws = await dialWebSocket(peer, job, wsUrl);
      sockets.push(ws);
      await until(`the job to reach an end (${job.state})`, () => ["ready", "sent", "refused", "closed"].includes(job.state) || undefined);
      return { job, ws };
    };
    return {
      url: edge.url,
      adminToken,
      harness,
      admin,
      async inbound() {
        const r = await originate();
        if (r.job.state !== "ready" && r.job.state !== "sent") throw new Error(`inbound stream not accepted: ${JSON.stringify(r.job)}`);
        return r;
      },
      async inboundGateway() {
        const job = peer.addJob({ kind: "originate", from: PEER_DOMAIN, to: EDGE_DOMAIN });
        peer.dialTcp(job, "127.0.0.1", gatewayPort);
        await until(`the gateway job to reach an end (${job.state})`, () => ["ready", "sent", "refused", "closed"].includes(job.state) || undefined);
        if (job.state !== "ready" && job.state !== "sent") throw new Error(`inbound stream through the gateway not accepted: ${JSON.stringify(job)}`);
        return job;
      },
      async outbound() {
        const before = peer.inbox.length;
        const res = await fetch(edge.url + "/api/v1/stanzas", {
          method: "POST",
          headers: { authorization: `Bearer ${appToken}` },
          body: `<message from='bot@${EDGE_DOMAIN}' to='u@${PEER_DOMAIN}' type='chat'><body>hello from the console test</body></message>`,
        });
        if (res.status !== 202) throw new Error(`POST /api/v1/stanzas: ${res.status} ${await res.text()}`);
        await until("the stanza at peer.test", () => peer.inbox.length > before || undefined);
      },
      async spoof() {
        peer.config.forgeKeys = true;
        try {
          const { job } = await originate();
          return job;
        } finally {
          peer.config.forgeKeys = false;
        }
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
