// Issue 6 figures, against real Prosody 0.12 on this machine, in the same run (plaintext, loopback):
//
// 1. A new peer's first stanza: a Prosody user on a host that has never talked to the receiver sends
//    one message; time until the receiver has accepted it. Receiver = the edge (through the TCP
//    gateway, verifying by dialing Prosody) vs a second Prosody (sink.test). Median of K cold hosts.
// 2. Issue 11: the receiver's CPU per message and RSS with a REAL Prosody sender: bench/interop/real-sender.ts.
// 3. (synthetic sender, an extra line) The receiver's CPU per stanza (plaintext, then over XEP-0368 direct TLS), fed by the test harness's S2S sender (test/harness, not a
//    bottleneck) over one verified stream: the edge (workerd + gateway processes; wrangler's own Node
//    process is reported apart) delivering to its local app, vs Prosody delivering to a logged-in
//    user. CPU from /proc/<pid>/stat (utime + stime) before and after N messages, each receiver
//    first warmed up with WARMUP messages on the same stream (steady state, as a server runs).
//
// Needs root and the interop packages (.ci/run); prints "skipped" with the reason otherwise.

import { readFileSync } from "node:fs";
import { Element } from "ltx";
import { C2sClient } from "../scripts/interop/lib/c2s.mjs";
import { startStack, type Stack } from "../scripts/interop/lib/stack.mjs";
import { PASSWORD } from "../scripts/interop/lib/topology.mjs";
import { startHarness, type RunningHarness as Harness } from "../test/harness/server.js";
import { cpuSeconds, loadAverage } from "./interop/proc-stats.js";
import { realSenderCpu } from "./interop/real-sender.js";
import { pairDomain, pairSoak, pairSoakCount, rssSoak } from "./interop/soak.js";
import { gatewayProfiles } from "./interop/profile.js";

/**
 * Sections to run (BENCH_INTEROP=first,real,synthetic,soak,pairs; default all): `first` = a new peer's
 * first stanza, `real` = CPU and RSS with a real Prosody sender (bench/interop/real-sender.ts),
 * `synthetic` = CPU with the harness sender (hundreds of stanzas per TCP read: not what real servers do),
 * `soak` = RSS over 1,000,000 messages on one stream, `pairs` = RSS over 10,000 sender domains
 * (BENCH_SOAK_PAIRS) claimed on 4 streams (BENCH_SOAK_STREAMS), one message each (bench/interop/soak.ts).
 */
const SECTIONS = new Set((process.env.BENCH_INTEROP ?? "first,real,synthetic,soak,pairs").split(",").map((x) => x.trim()));

const K = 5; // cold first-stanza samples per receiver
const N = 40_000; // stanzas for the CPU figure
const WARMUP = 40_000; // stanzas sent first to each receiver, not counted
const TLS_WARMUP = 5_000; // the same for the TLS streams, on processes already warm

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function inboxSeq(stack: Stack): Promise<{ seq: number; xml: string }[]> {
  const res = await stack.api("/api/v1/inbox?limit=20");
  return ((await res.json()) as { items: { seq: number; xml: string }[] }).items;
}

export default async function bench(): Promise<void> {
  if (process.getuid?.() !== 0) return console.log("skipped: needs root (Prosody runs as its own user; see .ci/run)");
  try {
    readFileSync("/usr/bin/prosody");
  } catch {
    return console.log("skipped: Prosody is not installed (.ci/run installs the interop peers)");
  }
  process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
  const hosts = Array.from({ length: K }, (_, i) => `p${i}.test`);
  const harness = await startHarness("peer.test", "bench-interop-secret-0123456789", { s2s: 0, uplink: 0, control: 0 });
  // The harness is only the sender here: when Prosody verifies it, Prosody also authenticates its own
  // stream to the harness, which accepts without a verification leg of its own.
  harness.peer.config.verify = "valid";
  // `pairs`: the harness is the Authoritative Server of every d<i>.peer.test too, found by the edge
  // through SRV records on the harness's DoH endpoint (DOH_URL, http: allowed on loopback under
  // EDGE_ENV=development); peer.test itself keeps its static route.
  const pairs = SECTIONS.has("pairs");
  if (pairs) {
    harness.peer.config.servesSubdomainsOf = "peer.test";
    const control = `http://127.0.0.1:${harness.ports.control}`;
    const srv = Object.fromEntries(Array.from({ length: pairSoakCount }, (_, i) => [`_xmpp-server._tcp.${pairDomain(i)}`, [`0 0 ${harness.ports.s2s} 127.0.0.1.`]]));
    await fetch(`${control}/dns`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(srv) });
  }
  const edgeVars: Record<string, string> = {
    ...(process.env.DELIVERY_COMMIT_WINDOW_MS ? { DELIVERY_COMMIT_WINDOW_MS: process.env.DELIVERY_COMMIT_WINDOW_MS } : {}),
    ...(pairs ? { DOH_URL: `http://127.0.0.1:${harness.ports.control}/dns-query` } : {}),
    // BENCH_EDGE_LOG_LEVEL=warn: the edge's LOG_LEVEL (under wrangler dev every log line of the Worker
    // also crosses wrangler's proxy workerd, through its inspector proxy).
    ...(process.env.BENCH_EDGE_LOG_LEVEL ? { LOG_LEVEL: process.env.BENCH_EDGE_LOG_LEVEL } : {}),
  };
  const stack = await startStack({
    tls: false, edgeDirectTls: false, ejabberd: false, sink: true, sinkDirectTls: true, prosodyExtraHosts: hosts, name: "bench",
    gatewayEnv: { GATEWAY_REQUIRE_TLS: "false", GATEWAY_LOG_LEVEL: "info",
      // BENCH_PROFILE=<dir>: the gateway writes a CPU profile there when it exits (bench/interop/profile.ts).
      ...(process.env.BENCH_PROFILE ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${process.env.BENCH_PROFILE}` } : {}) },
    extraRoutes: [`peer.test=127.0.0.1:${harness.ports.s2s}`],
    edgeVars,
    // wrangler's DevTools inspector only where a figure is read through it (heap, profile): while it
    // runs, every log line of the Worker costs wrangler's proxy (scripts/lib/devtools.mjs).
    edgeDevtools: !!process.env.BENCH_PROFILE || process.env.BENCH_REAL_HEAP === "1" || process.env.BENCH_HEAP === "1",
    extraRecords: { a: [["peer.test", "127.0.0.1"]], srv: [["_xmpp-server._tcp.peer.test", "peer.test", harness.ports.s2s]] },
  }).catch(async (e) => {
    await harness.close();
    throw e;
  });
  const clients: C2sClient[] = [];
  try {
    const bob = await C2sClient.login({ host: stack.ip.sink, port: 5222, jid: `bob@${stack.domains.sink}`, password: PASSWORD });
    clients.push(bob);

    if (SECTIONS.has("first")) await firstStanza(stack, bob, hosts, clients);
    if (SECTIONS.has("real")) {
      const alice = await C2sClient.login({ host: stack.ip.prosody, port: 5222, jid: `alice@${stack.domains.prosody}`, password: PASSWORD });
      clients.push(alice);
      await realSenderCpu(stack, alice, bob);
    }
    if (SECTIONS.has("synthetic")) await syntheticCpu(stack, harness, bob);
    if (SECTIONS.has("soak")) await rssSoak(stack, harness);
    if (pairs) await pairSoak(stack, harness);
  } finally {
    for (const c of clients) await c.close();
    await stack.stop();
    await harness.close();
  }
  if (process.env.BENCH_PROFILE) console.log(gatewayProfiles(process.env.BENCH_PROFILE).join("\n"));
}


// ---- a new peer's first stanza
async function firstStanza(stack: Stack, bob: C2sClient, hosts: string[], clients: C2sClient[]): Promise<void> {
  const edgeMs: number[] = [];
  const prosodyMs: number[] = [];
  for (const h of hosts) {
    const u = await C2sClient.login({ host: stack.ip.prosody, port: 5222, jid: `user@${h}`, password: PASSWORD });
    clients.push(u);
    let body = `first ${h} edge`;
    let t0 = performance.now();
    u.sendMessage(`app@${stack.domains.edge}`, body);
    for (;;) {
      if ((await inboxSeq(stack)).some((i) => i.xml.includes(body))) break;
      if (performance.now() - t0 > 30_000) throw new Error(`bench: ${h} -> edge never arrived`);
    }
    edgeMs.push(performance.now() - t0);
    body = `first ${h} sink`;
    t0 = performance.now();
    u.sendMessage(`bob@${stack.domains.sink}`, body);
    await bob.waitForMessage(body, 30_000);
    prosodyMs.push(performance.now() - t0);
  }

  console.log("first stanza from a new peer (Prosody host never seen before), median of", K, "(lower is better):");
  console.log(`  edge via gateway ${median(edgeMs).toFixed(1)} ms vs Prosody-to-Prosody ${median(prosodyMs).toFixed(1)} ms` +
    `  ratio ${(median(edgeMs) / median(prosodyMs)).toFixed(2)}x  (samples edge ${edgeMs.map((x) => x.toFixed(0)).join(",")}; prosody ${prosodyMs.map((x) => x.toFixed(0)).join(",")})`);
}

// ---- receiver CPU per stanza, harness (synthetic) sender: hundreds of stanzas per TCP read, which no real
// server does; kept as an extra line, labelled as such.
async function syntheticCpu(stack: Stack, harness: Harness, bob: C2sClient): Promise<void> {
  const msg = (to: string, i: number) =>
    new Element("message", { from: "u@peer.test", to, id: `b${i}`, type: "chat" }).c("body").t(`bench ${i}`).root();
  const openStream = async (to: string, host: string, tls = false) => {
    const job = harness.peer.addJob({ kind: "originate", to, stanzas: [] });
    if (tls) harness.peer.dialTls(job, host, 5270, { ca: readFileSync(stack.ca, "utf8"), servername: to });
    else harness.peer.dialTcp(job, host, 5269);
    const deadline = Date.now() + 30_000;
    while (job.state !== "ready" && job.state !== "sent") {
      if (["refused", "closed"].includes(job.state) || Date.now() > deadline) throw new Error(`bench: stream to ${to}: ${JSON.stringify(job)}`);
      await Promise.race([harness.peer.changed(), new Promise((r) => setTimeout(r, 50))]);
    }
    return job;
  };

  // One run: `count` stanzas on the stream, until the receiver has them all; CPU of the receiver's
  // processes over that run. The first run of each receiver is a warm-up (JIT, caches, SQLite pages)
  // and is not counted: what is compared is the steady state of a long-running server.
  const run = async (job: { id: string }, to: string, count: number, first: number, done: (target: number) => Promise<boolean>, cpu: () => number[]) => {
    const c0 = cpu();
    const t = performance.now();
    for (let i = 0; i < count; i++) harness.peer.sendOn(job.id, msg(to, first + i));
    while (!(await done(count))) {
      if (performance.now() - t > 300_000) throw new Error(`bench: ${to} did not receive ${count} stanzas`);
      // Polling the edge's inbox costs it a request each time: not too often.
      await new Promise((r) => setTimeout(r, 50));
    }
    const wall = performance.now() - t;
    return { cpu: cpu().map((c, i) => c - c0[i]!), rate: count / (wall / 1000) };
  };

  // Prosody (sink.test) receiving, delivering to bob's session.
  const sinkJob = await openStream(stack.domains.sink, stack.ip.sink);
  const sinkPid = stack.sink!.proc.pid;
  const bobAt = (base: number) => (target: number) => Promise.resolve(bob.received.length >= base + target);
  const pw = await run(sinkJob, `bob@${stack.domains.sink}`, WARMUP, 0, bobAt(bob.received.length), () => [cpuSeconds([sinkPid])]);
  const pr = await run(sinkJob, `bob@${stack.domains.sink}`, N, WARMUP, bobAt(bob.received.length), () => [cpuSeconds([sinkPid])]);
  const prosodyCpu = pr.cpu[0]!;

  // The edge receiving through the gateway, delivering to its local app (SQLite inbox).
  const edgeJob = await openStream(stack.domains.edge, stack.ip.gateway);
  const roots = [stack.edge.proc.pid];
  const gw = [stack.gateway.proc.pid];
  const stored = async (base: number) => {
    const start = base;
    return async (target: number) => ((await inboxSeq(stack))[0]?.seq ?? 0) >= start + target;
  };
  const edgeCpu = () => [cpuSeconds(roots, /workerd/), cpuSeconds(gw), cpuSeconds(roots, /node|wrangler/)];
  const ew = await run(edgeJob, `app@${stack.domains.edge}`, WARMUP, 0, await stored((await inboxSeq(stack))[0]?.seq ?? 0), edgeCpu);
  const er = await run(edgeJob, `app@${stack.domains.edge}`, N, WARMUP, await stored((await inboxSeq(stack))[0]?.seq ?? 0), edgeCpu);
  const [workerdCpu, gatewayCpu, wranglerNodeCpu] = er.cpu as [number, number, number];

  // The same over XEP-0368 direct TLS (port 5270 of the gateway and of the sink): both receivers
  // decrypt. New streams on the already warm processes, each given TLS_WARMUP first.
  const sinkTls = await openStream(stack.domains.sink, stack.ip.sink, true);
  await run(sinkTls, `bob@${stack.domains.sink}`, TLS_WARMUP, 0, bobAt(bob.received.length), () => [cpuSeconds([sinkPid])]);
  const pt = await run(sinkTls, `bob@${stack.domains.sink}`, N, TLS_WARMUP, bobAt(bob.received.length), () => [cpuSeconds([sinkPid])]);
  const edgeTls = await openStream(stack.domains.edge, stack.ip.gateway, true);
  await run(edgeTls, `app@${stack.domains.edge}`, TLS_WARMUP, 0, await stored((await inboxSeq(stack))[0]?.seq ?? 0), edgeCpu);
  const et = await run(edgeTls, `app@${stack.domains.edge}`, N, TLS_WARMUP, await stored((await inboxSeq(stack))[0]?.seq ?? 0), edgeCpu);

  const us = (s: number) => ((s * 1e6) / N).toFixed(1);
  console.log(`SYNTHETIC sender (test harness, hundreds of stanzas per TCP read; not a real server): receiver CPU per stanza, ${N} messages on one stream, after ${WARMUP} to warm up; load average ${loadAverage()}:`);
  console.log(`  Prosody: ${us(prosodyCpu)} us/stanza (${pr.rate.toFixed(0)}/s)`);
  console.log(`  edge: ${us(workerdCpu + gatewayCpu)} us/stanza = workerd ${us(workerdCpu)} + gateway ${us(gatewayCpu)}` +
    ` (${er.rate.toFixed(0)}/s; wrangler's Node process, not on the data path, ${us(wranglerNodeCpu)})`);
  console.log(`  ratio edge/Prosody: ${((workerdCpu + gatewayCpu) / prosodyCpu).toFixed(2)}x  (target <= 0.5)`);
  console.log(`  over direct TLS (XEP-0368, both decrypting): Prosody ${us(pt.cpu[0]!)} us/stanza; edge ${us(et.cpu[0]! + et.cpu[1]!)} =` +
    ` workerd ${us(et.cpu[0]!)} + gateway ${us(et.cpu[1]!)}; ratio ${((et.cpu[0]! + et.cpu[1]!) / pt.cpu[0]!).toFixed(2)}x`);
  const wu = (s: number) => ((s * 1e6) / WARMUP).toFixed(1);
  console.log(`  (the ${WARMUP} warm-up messages, not counted above: Prosody ${wu(pw.cpu[0]!)} us/stanza; edge ${wu(ew.cpu[0]! + ew.cpu[1]!)} =` +
    ` workerd ${wu(ew.cpu[0]!)} + gateway ${wu(ew.cpu[1]!)}, ratio ${((ew.cpu[0]! + ew.cpu[1]!) / pw.cpu[0]!).toFixed(2)}x: V8 compiles the hot paths meanwhile)`);
}
