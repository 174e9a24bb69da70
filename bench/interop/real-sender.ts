// Issue 11 items 4/7: the receiver's CPU per message and memory with a REAL Prosody 0.12 as the sender.
//
// alice@prosody.test (a c2s client of the sending Prosody) writes RUNS x N chat messages; the sending
// Prosody routes them over its one S2S stream to each receiver, as a real server does (its own
// write sizes: ~48 stanzas per TCP read, where the harness sender puts hundreds). Receivers, in the
// same run and interleaved run by run: a second Prosody (sink.test, delivering to bob's c2s session)
// and the edge (through the TCP gateway, delivering to its local app). Per run: receiver CPU from
// /proc (all workerd processes + the gateway vs the receiving Prosody), read syscalls of the
// receiving process (how the sender's writes arrive), and afterwards the RSS of workerd, the gateway
// and the sink. The first WARM_RUNS runs are the warm-up (V8 compiling the edge's hot paths; Prosody,
// interpreted, costs the same cold or warm); the steady state is the later runs together.

import type { C2sClient } from "../../scripts/interop/lib/c2s.mjs";
import type { Stack } from "../../scripts/interop/lib/stack.mjs";
import { cpuSeconds, loadAverage, readCalls, rssMb, workerdApart } from "./proc-stats.js";
import { InspectorProfiler, topSelf } from "./profile.js";

const N = Number(process.env.BENCH_REAL_MESSAGES ?? 20_000);
const RUNS = Number(process.env.BENCH_REAL_RUNS ?? 5);
const WARM_RUNS = Number(process.env.BENCH_REAL_WARM_RUNS ?? 2);
/** Stanzas per c2s write of the bench's client (the sending Prosody re-writes them its own way). */
const CHUNK = 100;
/** How often the edge's inbox is asked whether the run has arrived (each ask costs the edge a request). */
const POLL_MS = 500;

export interface ReceiverRun {
  cpu: number;
  /** The edge's part in the gateway (the rest is workerd). */
  gateway?: number;
  seconds: number;
  reads: number;
  rss: number[];
}

async function inboxHead(stack: Stack): Promise<number> {
  const res = await stack.api("/api/v1/inbox?limit=1");
  return ((await res.json()) as { items: { seq: number }[] }).items[0]?.seq ?? 0;
}

async function blast(alice: C2sClient, to: string, count: number, tag: string): Promise<void> {
  for (let i = 0; i < count; i += CHUNK) {
    let text = "";
    for (let j = i; j < Math.min(count, i + CHUNK); j++) text += `<message to='${to}' type='chat' id='${tag}-${j}'><body>bench ${tag} ${j}</body></message>`;
    await alice.sendBulk(text);
  }
}

async function until(done: () => Promise<boolean> | boolean, what: string, limitMs = 600_000): Promise<void> {
  const t = performance.now();
  while (!(await done())) {
    if (performance.now() - t > limitMs) throw new Error(`bench: ${what}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

export async function realSenderCpu(stack: Stack, alice: C2sClient, bob: C2sClient): Promise<void> {
  const edgeTo = `app@${stack.domains.edge}`;
  const sinkTo = `bob@${stack.domains.sink}`;
  const sink = [stack.sink!.proc.pid];
  const edge = [stack.edge.proc.pid];
  const gw = [stack.gateway.proc.pid];
  const workerdCpu = () => cpuSeconds(edge, /workerd/);
  const edgeCpu = () => workerdCpu() + cpuSeconds(gw);

  // Open both S2S streams (dialback) with one message each, and wait for it.
  let head = await inboxHead(stack);
  alice.sendMessage(edgeTo, "real-sender open");
  await until(async () => (await inboxHead(stack)) > head, "the edge never received the opening message", 60_000);
  alice.sendMessage(sinkTo, "real-sender open");
  await bob.waitForMessage("real-sender open", 60_000);

  // The cost of one completion poll to the edge, subtracted from its runs (Prosody's equivalent,
  // bob's session, is part of its delivery and costs nothing extra).
  // The edge idle over the same time is measured first and taken out of the polls' figure.
  const idleMs = 3000;
  let i0 = edgeCpu();
  await new Promise((r) => setTimeout(r, idleMs));
  const idlePerSec = (edgeCpu() - i0) / (idleMs / 1000);
  const polls = 100;
  i0 = edgeCpu();
  const pt = performance.now();
  for (let i = 0; i < polls; i++) await inboxHead(stack);
  const perPoll = Math.max(0, (edgeCpu() - i0 - idlePerSec * ((performance.now() - pt) / 1000)) / polls);

  const prosodyRuns: ReceiverRun[] = [];
  const edgeRuns: ReceiverRun[] = [];
  // workerd in all, the gateway, the sink Prosody, then workerd apart: the Worker's and wrangler dev's proxy.
  const rss = () => {
    const w = workerdApart(stack);
    return [rssMb(edge, /workerd/), rssMb(gw), rssMb(sink), w.worker, w.proxy];
  };
  // BENCH_REAL_HEAP=1: the Worker's JS heap after a full GC after each edge run (through wrangler's
  // inspector, outside the timed part): whether what RSS keeps is objects of ours.
  const heapAfter: number[] = [];
  const heap = process.env.BENCH_REAL_HEAP === "1" ? await InspectorProfiler.connect(stack.edge.inspectorPort!).catch(() => undefined) : undefined;
  // BENCH_PROFILE=<dir>: the Worker's isolate is profiled over the edge's steady-state runs.
  let profiler: InspectorProfiler | undefined;
  for (let r = 0; r < RUNS; r++) {
    // Prosody -> Prosody
    let c0 = cpuSeconds(sink);
    let t0 = performance.now();
    const base = bob.received.length;
    await blast(alice, sinkTo, N, `p${r}`);
    await until(() => bob.received.length >= base + N, `sink.test did not receive run ${r}`);
    prosodyRuns.push({ cpu: cpuSeconds(sink) - c0, seconds: (performance.now() - t0) / 1000, reads: 0, rss: rss() });

    // Prosody -> gateway -> edge
    if (r === WARM_RUNS && process.env.BENCH_PROFILE) {
      profiler = await InspectorProfiler.connect(stack.edge.inspectorPort!);
      await profiler.start();
    }
    head = await inboxHead(stack);
    c0 = edgeCpu();
    const g0 = cpuSeconds(gw);
    const r0 = readCalls(gw);
    t0 = performance.now();
    let asks = 0;
    await blast(alice, edgeTo, N, `e${r}`);
    await until(async () => (asks++, (await inboxHead(stack)) >= head + N), `the edge did not receive run ${r}`);
    edgeRuns.push({ cpu: edgeCpu() - c0 - asks * perPoll, gateway: cpuSeconds(gw) - g0, seconds: (performance.now() - t0) / 1000, reads: readCalls(gw) - r0, rss: rss() });
    if (heap) heapAfter.push((await heap.heapUsed().catch(() => NaN)) / 2 ** 20);
  }
  heap?.close();

  if (profiler) {
    const file = `${process.env.BENCH_PROFILE}/workerd-${Date.now()}.cpuprofile`;
    console.log(`workerd profile (${file}):\n${topSelf(await profiler.stop(file)).join("\n")}`);
  }
  const us = (s: number, n = N) => ((s * 1e6) / n).toFixed(1);
  console.log(`receiver CPU per message, REAL Prosody 0.12 sender (c2s -> Prosody -> one S2S stream), ${RUNS} runs of ${N}, interleaved; load average ${loadAverage()}:`);
  for (let r = 0; r < RUNS; r++) {
    const p = prosodyRuns[r]!;
    const e = edgeRuns[r]!;
    console.log(`  run ${r + 1}${r < WARM_RUNS ? " (warm-up)" : ""}: Prosody ${us(p.cpu)} us (${(N / p.seconds).toFixed(0)}/s)` +
      ` | edge ${us(e.cpu)} us = workerd ${us(e.cpu - e.gateway!)} + gateway ${us(e.gateway!)} (${(N / e.seconds).toFixed(0)}/s, ${(N / e.reads).toFixed(1)} stanzas per gateway read)` +
      ` | ratio ${(e.cpu / p.cpu).toFixed(2)}x | RSS after: workerd ${e.rss[0]!.toFixed(1)} MB (the Worker's ${e.rss[3]!.toFixed(1)} + wrangler dev's proxy ${e.rss[4]!.toFixed(1)}${heapAfter[r] !== undefined ? `; its JS heap after GC ${heapAfter[r]!.toFixed(1)}` : ""}), gateway ${e.rss[1]!.toFixed(1)} MB, sink Prosody ${e.rss[2]!.toFixed(1)} MB`);
  }
  const sum = (xs: ReceiverRun[]) => xs.reduce((s, x) => s + x.cpu, 0);
  const steadyP = prosodyRuns.slice(WARM_RUNS);
  const steadyE = edgeRuns.slice(WARM_RUNS);
  const warmP = prosodyRuns.slice(0, WARM_RUNS);
  const warmE = edgeRuns.slice(0, WARM_RUNS);
  if (steadyE.length > 0) {
    console.log(`  steady state (runs ${WARM_RUNS + 1}-${RUNS}): Prosody ${us(sum(steadyP), N * steadyP.length)} us/message; edge ${us(sum(steadyE), N * steadyE.length)} us/message;` +
      ` ratio ${(sum(steadyE) / sum(steadyP)).toFixed(2)}x  (target <= 0.5)`);
  }
  if (warmE.length > 0) {
    console.log(`  warm-up (runs 1-${WARM_RUNS}): Prosody ${us(sum(warmP), N * warmP.length)} us/message; edge ${us(sum(warmE), N * warmE.length)} us/message;` +
      ` ratio ${(sum(warmE) / sum(warmP)).toFixed(2)}x`);
  }
  const first = edgeRuns[0]!.rss;
  const last = edgeRuns.at(-1)!.rss;
  const afterWarm = edgeRuns[Math.min(WARM_RUNS, RUNS) - 1]!.rss;
  console.log(`  RSS workerd ${edgeRuns.map((e) => e.rss[0]!.toFixed(1)).join(" -> ")} MB; gateway ${edgeRuns.map((e) => e.rss[1]!.toFixed(1)).join(" -> ")} MB` +
    ` (growth after warm-up: workerd ${(last[0]! - afterWarm[0]!).toFixed(1)} MB, gateway ${(last[1]! - afterWarm[1]!).toFixed(1)} MB over ${RUNS - WARM_RUNS} runs;` +
    ` from run 1: ${(last[0]! - first[0]!).toFixed(1)} / ${(last[1]! - first[1]!).toFixed(1)} MB;` +
    ` the Worker's workerd alone ${(last[3]! - afterWarm[3]!).toFixed(1)} MB after warm-up, wrangler dev's proxy ${(last[4]! - afterWarm[4]!).toFixed(1)} MB)`);
  console.log(`  (edge figures exclude its completion polls, ${(perPoll * 1e6).toFixed(0)} us each, measured before the runs;` +
    ` the edge idle used ${(idlePerSec * 1000).toFixed(1)} ms CPU per second, not subtracted)`);
}
