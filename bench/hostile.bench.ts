// `npm run bench hostile` (issue 10): the edge and the gateway tried as an attacker would, from one
// address, without credentials (except the admin requests of item 9, which need the admin token).
//
// Runs in its own network namespace (`unshare -n`, root): loopback only, nothing can leave the
// machine, ports 5269/5270 are ours, and 169.254.169.254 and a "public" 11.22.33.44 exist on the
// namespace's loopback so SSRF attempts and outbound fan-out land on listeners the bench counts.
//
// A legitimate peer (legit.ts: time-to-features through the gateway, a db:verify round trip on a
// WebSocket stream, API send -> delivery) is measured idle, then while each attack of issue 10 runs
// (bench/hostile/attacks-*.ts; each bounded in count and time). Per attack one line:
//   - ratio under attack / idle for each measure (target <= 2x; "timeout" = a sample took > 10 s);
//   - connections the attacker held (max, sampled every 250 ms);
//   - outbound connections the edge opened meanwhile: to peer.test (the harness, allowed by
//     S2S_STATIC_ROUTES), to the public tarpit, and to refused addresses (loopback, link-local /
//     metadata, ::1; target 0);
//   - RSS growth of the Worker's workerd and of the gateway process tree, peak during the attack and
//     what is left once it stopped (after up to 30 s: "returned" when within 32 MiB of the level
//     before; "bounded" when the peak stays under 256 MiB); wrangler dev's proxy workerd apart (it
//     keeps every log line of the Worker while no DevTools client is attached: a dev-tool cost,
//     bench/interop/proc-stats.ts workerdApart); HOSTILE_HEAP=1 adds the Worker's JS heap after a
//     full GC before, under and after the attack (what of the growth is our objects);
//   - what the attacker observed (stream errors, dialback answers, closures, HTTP statuses).
// The load average is printed with every line: the machine is shared, read ratios with it.

import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { control, type Attack } from "./hostile/attack.js";
import { bidiClaims, nonCanonicalFrom, pendingFanOut, spoofedResults, ssrf } from "./hostile/attacks-dialback.js";
import { escapingGrowth, manyAttributes, preHandshakeFlood } from "./hostile/attacks-gateway.js";
import { hostileAdmin, hostSpoof, hungWebhook } from "./hostile/attacks-http.js";
import { LegitPeer, MEASURES, type Figures } from "./hostile/legit.js";
import { PUBLIC_TARPIT, startHostileStack, type HostileStack } from "./hostile/stack.js";
import { treeCpuSeconds, treeRssMiB } from "./hostile/world.js";
import { workerdApart } from "./interop/proc-stats.js";
import { InspectorProfiler } from "./interop/profile.js";

// Run order: the attacks whose aftermath lasts longest on an unfixed edge (3, 4) come last, so they
// spoil fewer of the other figures. Attack 0 is the control (nothing sent): its ratios are the
// machine's noise at that moment. `HOSTILE_ONLY=4,7` runs only those, in that order (`3,3` runs
// attack 3 twice: does the second take more memory, or reuse what the first left?).
const ORDER: Attack[] = [control, hostileAdmin, hostSpoof, nonCanonicalFrom, ssrf, escapingGrowth, hungWebhook, spoofedResults, preHandshakeFlood, manyAttributes, bidiClaims, pendingFanOut];
const ONLY = process.env.HOSTILE_ONLY?.split(",").map(Number);
const ATTACKS = ONLY ? ONLY.map((n) => ORDER.find((a) => a.n === n)).filter((a): a is Attack => a !== undefined) : ORDER;
const READY_MAX_MS = 30_000;
/** Samples of each legitimate measure, just before and during each attack (medians compared). */
const SAMPLES = 5;
const AFTER_MAX_MS = 30_000;
const SETTLE_MAX_MS = 30_000;
const RETURNED_MIB = 32;
const BOUNDED_MIB = 256;

const load = () => loadavg().map((x) => x.toFixed(2)).join(" ");
const fmt = (x: number | undefined) => (x === undefined ? "timeout" : `${x.toFixed(1)}ms`);

export default async function bench(): Promise<void> {
  if (process.env.HOSTILE_NETNS !== "1") return reexecInNamespace();
  // Refuse to run anywhere but a fresh namespace: the attacks point the edge at 169.254.169.254.
  if (readFileSync("/proc/net/route", "utf8").trim().split("\n").length > 1) throw new Error("hostile bench: not in a private network namespace");
  process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
  process.env.WRANGLER_SEND_METRICS = "false";
  const t0 = performance.now();
  console.log(`load average at start: ${load()}`);
  const stack = await startHostileStack();
  const legit = new LegitPeer(stack);
  try {
    const edgePort = Number(new URL(stack.edgeUrl).port);
    const rss = () => ({ ...workerdApart({ edge: { proc: stack.edgeProc, port: edgePort } }), gateway: treeRssMiB(stack.gatewayProc.pid) });
    const outbound = () => ({
      peer: stack.harness.peer.stats.tcpAccepted,
      tarpit: stack.sinks.tarpit.accepted,
      refused: [stack.sinks.loopback, stack.sinks.metadata, stack.sinks.metadataS2s, stack.sinks.loopback6].reduce((n, s) => n + (s?.accepted ?? 0), 0),
    });
    await legit.measure(3); // warm-up: JIT, the outbound stream to peer.test, the verify stream
    const types: string[] = [];
    const idle = await legit.measure(7, types);
    const base = rss();
    console.log(`idle (median of 7): ttf ${fmt(idle.ttf)}  vrfy ${fmt(idle.vrfy)} (answers ${[...new Set(types)].join(",")})  api ${fmt(idle.api)}` +
      `  | RSS workerd ${base.worker.toFixed(0)} MiB (wrangler dev's proxy ${base.proxy.toFixed(0)} MiB more), gateway ${base.gateway.toFixed(0)} MiB | load ${load()}`);
    console.log(`targets: every ratio <= 2x; RSS growth < ${BOUNDED_MIB} MiB and back within ${RETURNED_MIB} MiB <= ${AFTER_MAX_MS / 1000} s after; 0 outbound connections to refused addresses`);
    const summary: string[] = [];
    for (const attack of ATTACKS) summary.push(await runOne(stack, legit, attack, idle, rss, outbound));
    console.log(`\nsummary: ${summary.join("  ")}`);
    console.log(`load average at end: ${load()}; bench took ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  } finally {
    legit.close();
    await stack.stop();
  }
}

type Rss = { worker: number; proxy: number; gateway: number };
type Outbound = { peer: number; tarpit: number; refused: number };

async function runOne(stack: HostileStack, legit: LegitPeer, attack: Attack, firstIdle: Figures, rss: () => Rss, outbound: () => Outbound): Promise<string> {
  // Ratios are against the legitimate peer measured just before this attack (the shared machine's
  // load drifts over ten minutes); the first idle figures are printed at the top for comparison.
  const idle = await legit.measure(SAMPLES);
  for (const m of MEASURES) idle[m] ??= firstIdle[m];
  const before = rss();
  const cpu0 = treeCpuSeconds(stack.edgeProc.pid, /workerd/);
  const out0 = outbound();
  let peak = { ...before };
  let heldMax = 0;
  let held = () => 0;
  const sample = () => {
    const r = rss();
    peak = { worker: Math.max(peak.worker, r.worker), proxy: Math.max(peak.proxy, r.proxy), gateway: Math.max(peak.gateway, r.gateway) };
    heldMax = Math.max(heldMax, held());
  };
  const timer = setInterval(sample, 250);
  // HOSTILE_HEAP=1: the Worker's JS heap after a full GC before, under and after the attack (MiB), read
  // through wrangler's inspector (which then forwards the Worker's log lines to it instead of keeping them).
  const heap = process.env.HOSTILE_HEAP === "1" ? await InspectorProfiler.connect(stack.edgeInspectorPort!).catch(() => undefined) : undefined;
  const heapMiB = async () => (heap ? ((await heap.heapUsed().catch(() => NaN)) / 2 ** 20).toFixed(1) : "");
  const heaps = [await heapMiB()];
  let observed: string;
  let figs: Figures;
  try {
    const running = await attack.start(stack);
    held = running.held;
    await Promise.race([running.ready, new Promise((r) => setTimeout(r, attack.readyMaxMs ?? READY_MAX_MS))]);
    sample();
    figs = await legit.measure(SAMPLES);
    sample();
    heaps.push(await heapMiB());
    observed = await running.stop();
  } finally {
    sample();
    clearInterval(timer);
  }
  const out1 = outbound();
  const cpu = treeCpuSeconds(stack.edgeProc.pid, /workerd/) - cpu0;
  // After: until RSS is back within RETURNED_MIB of the level before and the legitimate peer is back
  // to normal (one ttf and one vrfy sample within 2x idle + 50 ms), or AFTER_MAX_MS; then, if the
  // peer is still slow, up to SETTLE_MAX_MS more so the next attack starts from a quiet edge.
  const tAfter = performance.now();
  let after = rss();
  // The edge's processes: the Worker's workerd and the gateway. wrangler dev's proxy is printed apart:
  // it keeps every log line of the Worker (see bench/interop/proc-stats.ts workerdApart), which production does not.
  const growth = (r: Rss) => r.worker - before.worker + (r.gateway - before.gateway);
  const back = async () => {
    const ttf = await legit.timeToFeatures();
    const vrfy = await legit.verifyRoundTrip();
    return ttf !== undefined && vrfy !== undefined && ttf <= 2 * idle.ttf! + 50 && vrfy <= 2 * idle.vrfy! + 50;
  };
  let legitBackAt: number | undefined;
  while (performance.now() - tAfter < AFTER_MAX_MS) {
    after = rss();
    if (legitBackAt === undefined && (await back())) legitBackAt = performance.now() - tAfter;
    if (legitBackAt !== undefined && growth(after) <= RETURNED_MIB) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  const afterSecs = (performance.now() - tAfter) / 1000;
  heaps.push(await heapMiB());
  heap?.close();
  while (legitBackAt === undefined && performance.now() - tAfter < AFTER_MAX_MS + SETTLE_MAX_MS) {
    if (await back()) legitBackAt = performance.now() - tAfter;
    else await new Promise((r) => setTimeout(r, 1000));
  }
  const settled = legitBackAt === undefined ? `legit peer NOT back to normal ${((AFTER_MAX_MS + SETTLE_MAX_MS) / 1000).toFixed(0)} s after` : `legit peer back to normal ${(legitBackAt / 1000).toFixed(0)} s after`;
  const ratios = MEASURES.map((m) => {
    const a = figs[m];
    const i = idle[m];
    return { m, r: a === undefined || i === undefined ? Infinity : a / i };
  });
  const peakGrowth = growth(peak);
  const returned = growth(after) <= RETURNED_MIB;
  const refused = out1.refused - out0.refused;
  const ok = {
    ratio: ratios.every((x) => x.r <= 2),
    rss: peakGrowth < BOUNDED_MIB && returned,
    ssrf: refused === 0,
  };
  const mark = (b: boolean) => (b ? "ok" : "MISSED");
  const d = (a: number, b: number) => `${a - b >= 0 ? "+" : ""}${(a - b).toFixed(0)}`;
  console.log(
    `\n${attack.n} ${attack.name}\n` +
      (heap ? `  the Worker's JS heap after GC: ${heaps.join(" -> ")} MiB (before, under, after the attack)\n` : "") +
      `  ratio ${ratios.map((x) => `${x.m} ${x.r === Infinity ? "timeout" : `${x.r.toFixed(2)}x`}`).join(" ")} [${mark(ok.ratio)}]` +
      ` (${MEASURES.map((m) => fmt(figs[m])).join(" ")}; just before: ${MEASURES.map((m) => fmt(idle[m])).join(" ")})` +
      ` | attacker held max ${heldMax}` +
      ` | edge outbound: peer.test ${out1.peer - out0.peer}, tarpit ${PUBLIC_TARPIT} ${out1.tarpit - out0.tarpit}, refused addresses ${refused} [${mark(ok.ssrf)}]` +
      ` | RSS peak workerd ${d(peak.worker, before.worker)} gateway ${d(peak.gateway, before.gateway)} MiB,` +
      ` after ${afterSecs.toFixed(0)} s ${d(after.worker, before.worker)}/${d(after.gateway, before.gateway)} MiB ${returned ? "returned" : "NOT returned"} [${mark(ok.rss)}]` +
      ` (wrangler dev's proxy: peak ${d(peak.proxy, before.proxy)}, after ${d(after.proxy, before.proxy)} MiB)` +
      ` | workerd CPU ${cpu.toFixed(1)} s during the attack | ${settled} | load ${load()}\n  observed: ${observed}`,
  );
  return `${attack.n}:${ok.ratio && ok.rss && ok.ssrf ? "met" : `MISSED(${Object.entries(ok).filter(([, v]) => !v).map(([k]) => k).join(",")})`}`;
}

/** Runs this bench again inside a new network namespace with the addresses it needs on loopback. */
async function reexecInNamespace(): Promise<void> {
  if (process.getuid?.() !== 0) return console.log("skipped: needs root (runs in its own network namespace: unshare -n)");
  const runTs = join(dirname(fileURLToPath(import.meta.url)), "run.ts");
  const setup = `ip link set lo up && ip addr add 169.254.169.254/32 dev lo && ip addr add ${PUBLIC_TARPIT}/32 dev lo && exec "$@"`;
  const child = spawn("unshare", ["-n", "--", "sh", "-c", setup, "sh", process.execPath, ...process.execArgv, runTs, "hostile"], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, HOSTILE_NETNS: "1" },
  });
  // The inner run prints its own "## hostile" heading: drop it.
  let first = true;
  child.stdout.on("data", (d: Buffer) => {
    let s = d.toString();
    if (first) s = s.replace(/^\s*## hostile\s*\n/, "");
    first = false;
    process.stdout.write(s);
  });
  const code = await new Promise<number | null>((r) => child.on("exit", r));
  if (code !== 0) throw new Error(`hostile bench (in its namespace) exited with ${code}`);
}
