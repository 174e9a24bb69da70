// Stream sessions (issue 4): the edge running in workerd (wrangler's unstable_startWorker) against the
// test harness peer, and the harness against itself as the baseline, in the same run.
//
// 1. Handshake round trips from the first XMPP byte to the first accepted stanza, counted as the
//    sequential waits on the critical path: the initiator's (stream open -> features, db:result ->
//    answer) plus the receiving side's verification legs the harness observes (TCP connect, stream
//    open, each db:verify). Cold: no stream to the authority yet; warm: one already open.
//    Targets: <= 5 cold, <= 3 warm (Prosody-to-Prosody measured 9).
// 2. Stanzas per second through one inbound WebSocket session, until the application (the built-in
//    local app) has stored them all, vs the harness receiving over TCP: one frame per message (a
//    XEP-0468 peer) and the gateway's batched framing.

import * as ltx from "ltx";
import { unstable_startWorker } from "wrangler";
import { startHarness, type RunningHarness } from "../test/harness/server.js";
import { dialWebSocket } from "../test/harness/ws-client.js";
import type { Job } from "../test/harness/peer.js";

const N = 2000;
const APP_TOKEN = "bench-app-token-0123456789abcdef";
const GATEWAY_TOKEN = "bench-gateway-token-0123456789ab";

async function until(h: RunningHarness, pred: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error("bench: timed out");
    await Promise.race([h.peer.changed(), new Promise((r) => setTimeout(r, 20))]);
  }
}

function legs(h: RunningHarness) {
  return h.peer.stats.tcpAccepted + h.peer.stats.inboundOpens + h.peer.stats.verifyRequests;
}

async function handshake(h: RunningHarness, dial: (job: Job) => void, to: string, observer: () => number) {
  const before = observer();
  const job = h.peer.addJob({ kind: "originate", to, stanzas: [] });
  const t0 = performance.now();
  dial(job);
  await until(h, () => job.state === "sent" || job.state === "refused" || job.state === "closed");
  if (job.result?.type !== "valid") throw new Error(`bench: dialback failed: ${JSON.stringify(job)}`);
  return { roundTrips: job.roundTrips + (observer() - before), ms: performance.now() - t0, job };
}

export default async function bench(): Promise<void> {
  // Loopback only: no Request.cf download, no telemetry.
  process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
  process.env.WRANGLER_SEND_METRICS = "false";
  // ---- baseline: harness a.test -> harness b.test over TCP, b verifying with a's authority over TCP
  const a = await startHarness("a.test", "bench-secret-a-0123456789", { s2s: 0, uplink: 0, control: 0 });
  const b = await startHarness("b.test", "bench-secret-b-0123456789", { s2s: 0, uplink: 0, control: 0 });
  b.peer.config.authorityTcp = { host: "127.0.0.1", port: a.ports.s2s };
  const bObserved = () => b.peer.stats.authorityRoundTrips;
  const baseCold = await handshake(a, (j) => a.peer.dialTcp(j, "127.0.0.1", b.ports.s2s), "b.test", bObserved);
  const baseWarm = await handshake(a, (j) => a.peer.dialTcp(j, "127.0.0.1", b.ports.s2s), "b.test", bObserved);
  let t = performance.now();
  for (let i = 0; i < N; i++) a.peer.sendOn(baseWarm.job.id, msg("a.test", "b.test", i));
  await until(b, () => b.peer.inbox.length >= N);
  const baseRate = N / ((performance.now() - t) / 1000);

  // ---- the edge: peer.test (harness) -> edge.test over WebSocket; the edge verifies over TCP
  const peer = await startHarness("peer.test", "bench-secret-peer-0123456789", { s2s: 0, uplink: 0, control: 0 });
  const worker = await unstable_startWorker({
    config: "wrangler.toml",
    bindings: {
      EDGE_ENV: { type: "plain_text", value: "development" },
      EDGE_DOMAINS: { type: "plain_text", value: "edge.test" },
      DIALBACK_SECRET: { type: "plain_text", value: "bench-edge-secret-0123456789" },
      APP_TOKEN: { type: "plain_text", value: APP_TOKEN },
      S2S_STATIC_ROUTES: { type: "plain_text", value: `peer.test=127.0.0.1:${peer.ports.s2s}` },
      GATEWAY_TOKEN: { type: "plain_text", value: GATEWAY_TOKEN },
      DOH_URL: { type: "plain_text", value: `http://127.0.0.1:${peer.ports.control}/dns-query` },
    },
    dev: { server: { hostname: "127.0.0.1", port: 0 }, inspector: false, logLevel: "warn" },
  } as never);
  try {
    await worker.ready;
    const base = await worker.url;
    const wsUrl = `ws://${base.host}/xmpp-s2s`;
    const edgeObserved = () => legs(peer);
    const dial = (j: Job) => void dialWebSocket(peer.peer, j, wsUrl);
    const edgeCold = await handshake(peer, dial, "edge.test", edgeObserved);
    const edgeWarm = await handshake(peer, dial, "edge.test", edgeObserved);
    const tcpConnections = peer.peer.stats.tcpAccepted;

    const seq = async () => {
      const res = await fetch(new URL("/api/v1/inbox?limit=1", base), { headers: { authorization: `Bearer ${APP_TOKEN}` } });
      return ((await res.json()) as { items: { seq: number }[] }).items[0]?.seq ?? 0;
    };
    const start = await seq();
    t = performance.now();
    for (let i = 0; i < N; i++) peer.peer.sendOn(edgeWarm.job.id, msg("peer.test", "edge.test", i));
    while ((await seq()) < start + N) await new Promise((r) => setTimeout(r, 20));
    const edgeRate = N / ((performance.now() - t) / 1000);

    // The same through the gateway's batched framing (one WebSocket message per 64 KiB "read").
    const gw = await handshake(peer, (j) => void dialWebSocket(peer.peer, j, wsUrl, { token: GATEWAY_TOKEN, batched: true }), "edge.test", edgeObserved);
    const start2 = await seq();
    t = performance.now();
    for (let i = 0; i < N; i++) peer.peer.sendOn(gw.job.id, msg("peer.test", "edge.test", i));
    while ((await seq()) < start2 + N) await new Promise((r) => setTimeout(r, 20));
    const batchedRate = N / ((performance.now() - t) / 1000);

    console.log("handshake round trips, first XMPP byte -> first accepted stanza (lower is better):");
    console.log(`  cold: edge ${edgeCold.roundTrips} (${edgeCold.ms.toFixed(1)} ms) vs harness alone ${baseCold.roundTrips} (${baseCold.ms.toFixed(1)} ms)  target <= 5`);
    console.log(`  warm: edge ${edgeWarm.roundTrips} (${edgeWarm.ms.toFixed(1)} ms) vs harness alone ${baseWarm.roundTrips} (${baseWarm.ms.toFixed(1)} ms)  target <= 3`);
    console.log(`  connections the edge opened to peer.test's authority for 2 verifications: ${tcpConnections} (Prosody: one per verification)`);
    console.log(`stanzas/s through one inbound session, ${N} messages to the application:`);
    console.log(`  edge (WebSocket -> StreamSession -> LocalApp SQLite) ${edgeRate.toFixed(0)}/s vs harness alone (TCP, in memory) ${baseRate.toFixed(0)}/s`);
    console.log(`  ratio: ${(edgeRate / baseRate).toFixed(3)}x`);
    console.log(`  edge with the gateway's batched framing (several frames per WebSocket message) ${batchedRate.toFixed(0)}/s, ratio ${(batchedRate / baseRate).toFixed(3)}x`);
  } finally {
    await worker.dispose();
    await Promise.all([a.close(), b.close(), peer.close()]);
  }
}

function msg(from: string, to: string, i: number) {
  return new ltx.Element("message", { from: `u@${from}`, to: `v@${to}`, id: `m${i}`, type: "chat" }).c("body").t(`bench ${i}`).root();
}

