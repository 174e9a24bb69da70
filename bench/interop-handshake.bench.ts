// Issue 11 items 6 and 7: handshakes and many sender domains with a real Prosody 0.12 sender, the edge
// (gateway + wrangler dev) vs a second Prosody as the receiver, in the same run (plaintext).
//
// The network: every S2S connection between the sending Prosody (its hosts p*, s*, a*, b*) and either
// receiver runs through a delay relay (scripts/interop/lib/delay-proxy.mjs) with ONE_WAY ms each way,
// the TCP handshake's round trip included. The issue measured with `tc qdisc netem` in network
// namespaces; this machine's kernel has no sch_netem, so the relays stand in for it. Timings come from
// a packet capture on lo (tcpdump): kernel timestamps on the receiver's own side of each relay.
//
// 1. New peer -> first stanza, in round trips (capture time / (2 x ONE_WAY)): edge receiving
//    (Prosody host pN -> edge.test) vs Prosody -> Prosody (pN -> sink.test), and edge sending (API ->
//    sN.test) vs Prosody -> Prosody (sink.test -> sN.test). From the trigger reaching the sender (the
//    console line at Prosody, the c2s message at the sink, the API request at the edge) to the stanza
//    reaching the receiver's socket.
// 2. The edge's own time per handshake step, from the same capture: the time between a packet reaching
//    the edge (gateway socket, or the edge's outbound socket) and the edge's answer leaving it.
// 3. FANOUT sender domains (vhosts) of the one Prosody host send one message each at once to one
//    receiver: time until all arrived, S2S connections opened (SYNs in the capture, incl. verification
//    connections to the authority), receiver CPU and RSS growth per domain pair.
//
// Needs root, the interop packages (.ci/run) and tcpdump; prints "skipped" with the reason otherwise.
// HANDSHAKE_BENCH_FANOUT="200,2000" (default) picks the fan-out sizes ("" for none).

import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { C2sClient } from "../scripts/interop/lib/c2s.mjs";
import { startDelayProxy } from "../scripts/interop/lib/delay-proxy.mjs";
import { hasTcpdump, startCapture } from "../scripts/interop/lib/pcap.mjs";
import { ProsodyConsole } from "../scripts/interop/lib/prosody-console.mjs";
import { startStack, type Stack } from "../scripts/interop/lib/stack.mjs";
import { DOMAINS, PASSWORD } from "../scripts/interop/lib/topology.mjs";
import { cpuSeconds, loadAverage, rssBytes } from "./lib/procstat.js";
import { InspectorProfiler, gatewayProfiles, topSelf } from "./interop/profile.js";
import { ROOT } from "../scripts/interop/lib/paths.mjs";
import { analyseReceiving, analyseSending, type Packet, type Legs } from "./lib/handshake-capture.js";

const ONE_WAY = 25; // ms each way, as in the measurement
const K = 5; // new hosts per direction
const CONSOLE_PORT = 5582;
const FANOUT_HOST = /^f\d+x\d+\.test$/;
const FANOUT = (process.env.HANDSHAKE_BENCH_FANOUT ?? "200,2000").split(",").filter(Boolean).map(Number);
const HEAP = process.env.BENCH_HEAP === "1" || !!process.env.BENCH_PROFILE;

const median = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]! : NaN);
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "-");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function inboxSeq(stack: Stack): Promise<number> {
  const res = await stack.api("/api/v1/inbox?limit=1");
  return ((await res.json()) as { items: { seq: number }[] }).items[0]?.seq ?? 0;
}

/**
 * Waits until `count()` reaches `target`, or nothing moved for `stallMs` (`firstMs` before the first
 * one: thousands of new streams take a while to start delivering); returns the last count and when it
 * moved last.
 */
async function waitFor(count: () => Promise<number>, target: number, stallMs: number, pollMs = 100, firstMs = stallMs) {
  let last = -1;
  let moved = performance.now();
  for (;;) {
    const n = await count();
    if (n !== last) [last, moved] = [n, performance.now()];
    if (n >= target || performance.now() - moved > (n > 0 ? stallMs : firstMs)) return { n, at: moved };
    await sleep(pollMs);
  }
}

export default async function bench(): Promise<void> {
  if (process.getuid?.() !== 0) return console.log("skipped: needs root (Prosody runs as its own user; see .ci/run)");
  try {
    readFileSync("/usr/bin/prosody");
  } catch {
    return console.log("skipped: Prosody is not installed (.ci/run installs the interop peers)");
  }
  if (!hasTcpdump()) return console.log("skipped: tcpdump is not installed (apt-get install tcpdump)");
  process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
  const pHosts = Array.from({ length: K }, (_, i) => `p${i}.test`);
  const sHosts = Array.from({ length: K }, (_, i) => `s${i}.test`);
  const fanHosts = FANOUT.map((n, j) => Array.from({ length: n }, (_, i) => `f${j}x${i}.test`));
  // Relays: .20 stands for the sending Prosody (.2), .21 for the edge's gateway (.4), .22 for the sink (.5).
  const relayOf: Record<string, string> = { 2: "20", 4: "21", 5: "22" };
  const relay = (addr: string) => addr.replace(/\.(\d+)$/, (m, h: string) => (relayOf[h] ? `.${relayOf[h]}` : m));
  const stack = await startStack({
    tls: false, edgeDirectTls: false, ejabberd: false, sink: true, name: "bench-handshake",
    prosodyExtraHosts: [...pHosts, ...sHosts, ...fanHosts.flat()],
    // The fan-out's vhosts are served at one address, named as the SRV records of a multi-vhost server
    // name it (all at the sending Prosody's host): XEP-0220 §3 target multiplexing applies to them. The
    // new hosts of parts 1-2 keep routes of their own (a new peer's first verification is measured).
    routeHostOf: (h: string) => (FANOUT_HOST.test(h) ? DOMAINS.prosody : h),
    prosodyExtraModules: ["admin_telnet"],
    prosodyExtraGlobal: (ip) => `console_ports = { ${CONSOLE_PORT} }\nconsole_interfaces = { "${ip.prosody}" }`,
    addressOf: (_name, addr) => relay(addr),
    // BENCH_EDGE_LOG_LEVEL=warn: the edge's LOG_LEVEL (under wrangler dev every log line of the Worker
    // also crosses wrangler's proxy workerd, through its inspector proxy).
    ...(process.env.BENCH_EDGE_LOG_LEVEL ? { edgeVars: { LOG_LEVEL: process.env.BENCH_EDGE_LOG_LEVEL } } : {}),
    // wrangler's DevTools inspector only for the JS heap figure (BENCH_HEAP=1) or a profile: while it
    // runs, every log line of the Worker costs wrangler's proxy, and the attached client turns the
    // isolate's debugger on (scripts/lib/devtools.mjs).
    edgeDevtools: HEAP,
    // BENCH_GATEWAY_ENV="K=V,K=V" adds gateway settings (e.g. a longer waiting line for 2,000 domains).
    gatewayEnv: { GATEWAY_REQUIRE_TLS: "false", GATEWAY_LOG_LEVEL: "warn",
      // BENCH_PROFILE=<dir>: the gateway writes a CPU profile there when it exits (the whole run).
      ...(process.env.BENCH_PROFILE ? { NODE_OPTIONS: `--openssl-config=${join(ROOT, "gateway", "openssl.cnf")} --cpu-prof --cpu-prof-dir=${process.env.BENCH_PROFILE}` } : {}),
      ...Object.fromEntries((process.env.BENCH_GATEWAY_ENV ?? "").split(",").filter(Boolean).map((kv) => kv.split("=", 2))) },
  });
  const closers: Array<() => unknown> = [];
  try {
    const { ip } = stack;
    const relays = await Promise.all([
      startDelayProxy({ host: relay(ip.prosody), port: 5269, target: { host: ip.prosody, port: 5269 }, oneWayMs: ONE_WAY }),
      startDelayProxy({ host: relay(ip.gateway), port: 5269, target: { host: ip.gateway, port: 5269 }, oneWayMs: ONE_WAY }),
      startDelayProxy({ host: relay(ip.sink), port: 5269, target: { host: ip.sink, port: 5269 }, oneWayMs: ONE_WAY }),
    ]);
    for (const r of relays) closers.push(() => r.close());
    const legs: Legs = { prosody: ip.prosody, prosodyRelay: relay(ip.prosody), gateway: ip.gateway, gatewayRelay: relay(ip.gateway), sink: ip.sink, sinkRelay: relay(ip.sink), edgePort: stack.edge.port };
    const capDir = join(stack.dir, "capture");
    mkdirSync(capDir, { recursive: true });
    const net = ip.prosody.replace(/\.\d+$/, ".0/24");
    const console_ = await ProsodyConsole.open(ip.prosody, CONSOLE_PORT);
    closers.push(() => console_.close());
    // Prosody opens its ports before it has activated every virtual host (thousands take minutes
    // here); the console answers once its event loop is free again.
    const tReady = performance.now();
    const lastHost = fanHosts.at(-1)?.at(-1) ?? sHosts.at(-1)!;
    while (!(await console_.lua(`if not prosody.hosts["${lastHost}"] then error("not yet") end`, 900_000).catch(() => false))) await sleep(1000);
    console.log(`(the sending Prosody with ${3 + pHosts.length + sHosts.length + fanHosts.flat().length} virtual hosts was ready ${((performance.now() - tReady) / 1000).toFixed(0)} s after its ports opened)`);
    const bob = await C2sClient.login({ host: ip.sink, port: 5222, jid: `bob@${stack.domains.sink}`, password: PASSWORD });
    closers.push(() => bob.close());

    // ---- 1 + 2: new peers, one at a time, under one capture
    const cap = await startCapture({ file: join(capDir, "handshakes.pcap"), filter: `tcp and (net ${net} or port ${stack.edge.port})`, logFile: join(capDir, "tcpdump-handshakes.log") });
    const marks: Array<{ kind: "recv-edge" | "recv-prosody" | "send-edge" | "send-prosody"; marker: string; host: string }> = [];
    for (let i = 0; i < K; i++) {
      const p = pHosts[i]!;
      let marker = `hs-recv-edge-${p}`;
      marks.push({ kind: "recv-edge", marker, host: p });
      const base = await inboxSeq(stack);
      await console_.lua(`local st = require "util.stanza"; prosody.core_post_stanza(prosody.hosts["${p}"], st.message({ from = "user@${p}", to = "app@${stack.domains.edge}", type = "chat" }):tag("body"):text("${marker}"):up())`);
      if ((await waitFor(() => inboxSeq(stack), base + 1, 30_000, 100)).n < base + 1) throw new Error(`bench: ${p} -> edge never arrived`);
      marker = `hs-recv-prosody-${p}`;
      marks.push({ kind: "recv-prosody", marker, host: p });
      await console_.lua(`local st = require "util.stanza"; prosody.core_post_stanza(prosody.hosts["${p}"], st.message({ from = "user@${p}", to = "bob@${stack.domains.sink}", type = "chat" }):tag("body"):text("${marker}"):up())`);
      await bob.waitForMessage(marker, 30_000);

      const s = sHosts[i]!;
      const user = await C2sClient.login({ host: ip.prosody, port: 5222, jid: `user@${s}`, password: PASSWORD });
      closers.push(() => user.close());
      marker = `hs-send-edge-${s}`;
      marks.push({ kind: "send-edge", marker, host: s });
      const res = await stack.api("/api/v1/stanzas", { method: "POST", headers: { "content-type": "application/xml" },
        body: `<message xmlns="jabber:server" from="app@${stack.domains.edge}" to="user@${s}" type="chat"><body>${marker}</body></message>` });
      if (res.status !== 202) throw new Error(`bench: POST /api/v1/stanzas ${res.status} ${await res.text()}`);
      await user.waitForMessage(marker, 30_000);
      marker = `hs-send-prosody-${s}`;
      marks.push({ kind: "send-prosody", marker, host: s });
      bob.sendMessage(`user@${s}`, marker);
      await user.waitForMessage(marker, 30_000);
    }
    const packets = (await cap.stop()) as Packet[];
    const load1 = loadAverage();

    const rtt = (ms: number) => ms / (2 * ONE_WAY);
    const recvEdge = marks.filter((m) => m.kind === "recv-edge").map((m) => analyseReceiving(packets, legs, m.marker, "edge"));
    const recvPros = marks.filter((m) => m.kind === "recv-prosody").map((m) => analyseReceiving(packets, legs, m.marker, "prosody"));
    const sendEdge = marks.filter((m) => m.kind === "send-edge").map((m) => analyseSending(packets, legs, m.marker, "edge"));
    const sendPros = marks.filter((m) => m.kind === "send-prosody").map((m) => analyseSending(packets, legs, m.marker, "prosody"));
    const rtts = (xs: Array<{ totalMs: number }>) => xs.map((x) => rtt(x.totalMs));
    console.log(`new peer -> first stanza, plaintext, ${ONE_WAY} ms one-way delay (relays), round trips from a packet capture, median of ${K} new hosts (lower is better):`);
    const line = (label: string, e: number[], p: number[], target: number) =>
      console.log(`  ${label}: edge ${f1(median(e))} RTT vs Prosody->Prosody ${f1(median(p))} RTT  ratio ${(median(e) / median(p)).toFixed(2)}x  target <= ${target} RTT` +
        `  (edge ${e.map(f1).join(",")}; prosody ${p.map(f1).join(",")})`);
    line("edge receiving", rtts(recvEdge), rtts(recvPros), 6);
    line("edge sending  ", rtts(sendEdge), rtts(sendPros), 7);
    console.log(`edge processing per handshake step, from the capture (ms; first host cold, median of the other ${K - 1} warm; target <= 5 ms warm):`);
    const steps = (xs: Array<{ steps: Record<string, number> }>) => {
      const names = [...new Set(xs.flatMap((x) => Object.keys(x.steps)))];
      for (const n of names) {
        const v = xs.map((x) => x.steps[n] ?? NaN);
        console.log(`  ${n}: cold ${f1(v[0]!)}, warm ${f1(median(v.slice(1).filter(Number.isFinite)))}  (${v.map(f1).join(",")})`);
      }
    };
    console.log(" receiving (Prosody pN -> edge):");
    steps(recvEdge);
    console.log(" sending (API -> Prosody sN):");
    steps(sendEdge);
    console.log(" Prosody as the receiver, same steps (for scale):");
    steps(recvPros);
    console.log(`  load average during the handshakes: ${load1}`);

    // ---- 3: many sender domains of one Prosody host -> one receiver
    for (const [j, n] of FANOUT.entries()) {
      const hosts = fanHosts[j]!;
      const results: Record<string, string> = {};
      const figures: Record<string, { ms: number; delivered: number; inbound: number; verify: number; cpu: number; rss: number; proxyCpu?: number; proxyRss?: number }> = {};
      for (const receiver of ["prosody", "edge"] as const) {
        const marker = `fan${j}-${receiver}`;
        const syn = await startCapture({ file: join(capDir, `fanout-${n}-${receiver}.pcap`), snaplen: 96,
          filter: `tcp[13] & 18 == 2 and (net ${net} or port ${stack.edge.port})`, logFile: join(capDir, `tcpdump-fanout-${n}-${receiver}.log`) });
        const pids = receiver === "prosody" ? [stack.sink!.proc.pid] : [stack.edge.proc.pid, stack.gateway.proc.pid];
        const comm = receiver === "prosody" ? undefined : /workerd|node|tsx/;
        // wrangler's own Node process is not on the data path; count workerd + the gateway.
        const cpu = () => (receiver === "prosody" ? cpuSeconds(pids) : cpuSeconds([stack.edge.proc.pid], /workerd/) + cpuSeconds([stack.gateway.proc.pid]));
        const rss = () => (receiver === "prosody" ? rssBytes(pids) : rssBytes([stack.edge.proc.pid], /workerd/) + rssBytes([stack.gateway.proc.pid], comm));
        const seqBase = receiver === "edge" ? await inboxSeq(stack) : 0;
        // The edge's JS heap (after a full GC, through wrangler's inspector): how much of its RSS per
        // pair is objects of ours rather than the runtime's (Durable Object instances, SQLite, sockets).
        // BENCH_HEAP=1 only: the inspector it needs is not free (see `edgeDevtools` above).
        const heap = receiver === "edge" && HEAP ? await InspectorProfiler.connect(stack.edge.inspectorPort!).catch(() => undefined) : undefined;
        const h0 = await heap?.heapUsed().catch(() => NaN);
        const t0Heap = heap?.lastTotal ?? NaN;
        // BENCH_PROFILE=<dir>: a CPU profile of the Worker's isolate over the fan-out (all DOs run in it).
        const profiling = process.env.BENCH_PROFILE && heap ? await heap.start().then(() => true, () => false) : false;
        // The edge's two processes apart too: where a pair's cost lands (workerd vs the gateway).
        // wrangler dev's proxy (the workerd listening on the edge's port; no counterpart in production)
        // apart too: it buffers the Worker's log lines for its inspector.
        const proxyArgs = new RegExp(`entry=127\\.0\\.0\\.1:${stack.edge.port}\\b`);
        const split = () => receiver === "edge"
          ? {
              wCpu: cpuSeconds([stack.edge.proc.pid], /workerd/), gCpu: cpuSeconds([stack.gateway.proc.pid]), wRss: rssBytes([stack.edge.proc.pid], /workerd/), gRss: rssBytes([stack.gateway.proc.pid], comm),
              pCpu: cpuSeconds([stack.edge.proc.pid], /workerd/, proxyArgs), pRss: rssBytes([stack.edge.proc.pid], /workerd/, proxyArgs),
            }
          : undefined;
        const s0 = split();
        const c0 = cpu();
        const m0 = rss();
        const t0 = performance.now();
        await console_.sendFrom(hosts, receiver === "prosody" ? `bob@${stack.domains.sink}` : `app@${stack.domains.edge}`, marker);
        const count = receiver === "prosody"
          ? () => Promise.resolve(bob.received.filter((el) => el.getChildText?.("body")?.startsWith(marker)).length)
          : async () => (await inboxSeq(stack)) - seqBase;
        const done = await waitFor(count, n, 30_000, receiver === "edge" ? 250 : 50, 180_000);
        const ms = done.at - t0;
        const c1 = cpu();
        const m1 = rss();
        const s1 = split();
        if (profiling) {
          const profile = await heap!.stop(join(process.env.BENCH_PROFILE!, `fanout-${n}-edge.cpuprofile`));
          console.log(`the Worker's isolate during the ${n}-domain fan-out, most self time:`, ...topSelf(profile, 25).map((l) => `\n  ${l}`));
        }
        // Profiler.stop closed the inspector connection: no heap figure in a profiled run.
        const h1 = profiling ? undefined : await heap?.heapUsed().catch(() => NaN);
        if (!profiling) heap?.close();
        const syns = (await syn.stop()) as Packet[];
        const server = receiver === "prosody" ? ip.sink : ip.gateway;
        const inbound = syns.filter((p) => p.dst === server && p.dport === 5269).length;
        const verify = syns.filter((p) => p.dst === legs.prosodyRelay && p.dport === 5269).length;
        figures[receiver] = { ms, delivered: done.n, inbound, verify, cpu: c1 - c0, rss: m1 - m0,
          ...(s0 && s1 ? { proxyCpu: s1.pCpu - s0.pCpu, proxyRss: s1.pRss - s0.pRss } : {}) };
        const per = Math.max(done.n, 1); // per pair delivered (a bounced pair cost something too, but less)
        results[receiver] = `${done.n}/${n} delivered ${done.n < n ? "(the rest stalled 30 s) " : ""}in ${ms.toFixed(0)} ms; S2S connections: ${inbound} inbound + ${verify} to the authority;` +
          ` receiver CPU ${f1(((c1 - c0) * 1000) / per)} ms/pair, RSS +${f1((m1 - m0) / 1024 / per)} KiB/pair` +
          (h0 !== undefined && h1 !== undefined ? ` (of which the Worker's JS heap after GC +${f1((h1 - h0) / 1024 / per)} KiB/pair, its committed size +${f1(((heap?.lastTotal ?? NaN) - t0Heap) / 1024 / per)} KiB/pair)` : "") +
          (s0 && s1 ? `; workerd ${f1(((s1.wCpu - s0.wCpu) * 1000) / per)} ms + ${f1((s1.wRss - s0.wRss) / 1024 / per)} KiB (of which wrangler dev's proxy ${f1(((s1.pCpu - s0.pCpu) * 1000) / per)} ms + ${f1((s1.pRss - s0.pRss) / 1024 / per)} KiB), gateway ${f1(((s1.gCpu - s0.gCpu) * 1000) / per)} ms + ${f1((s1.gRss - s0.gRss) / 1024 / per)} KiB per pair` : "");
        await sleep(2000);
      }
      const e = figures.edge!;
      const p = figures.prosody!;
      console.log(`${n} sender domains of one Prosody host -> one receiver (one message each, sent at once; ${ONE_WAY} ms one-way):`);
      console.log(`  Prosody->Prosody: ${results.prosody}`);
      console.log(`  Prosody->edge:    ${results.edge}`);
      console.log(`  ratios edge/Prosody: time ${(e.ms / p.ms).toFixed(2)}x (target <= 1.0), CPU/pair ${(e.cpu / Math.max(e.delivered, 1) / (p.cpu / Math.max(p.delivered, 1))).toFixed(2)}x (target <= 0.5),` +
        ` RSS/pair ${(e.rss / Math.max(e.delivered, 1) / (p.rss / Math.max(p.delivered, 1))).toFixed(2)}x (target <= 0.5); verification connections ${e.verify} (target 1)`);
      // wrangler dev's proxy carries no stream of ours here (the gateway's link is one WebSocket); with
      // its DevTools inspector on, what grows it per pair is the Worker's log lines, which the inspector
      // proxy keeps until a DevTools client attaches (bench/interop/proc-stats.ts workerdApart).
      // Production has no such process.
      if (e.proxyCpu !== undefined && e.proxyRss !== undefined) {
        console.log(`  the same without wrangler dev's proxy (a dev tool; the edge's LOG_LEVEL here: ${process.env.BENCH_EDGE_LOG_LEVEL ?? "info, the default"};` +
          ` wrangler's DevTools inspector ${HEAP ? "ON for BENCH_HEAP/BENCH_PROFILE: every log line also costs the proxy, and the attached client the Worker" : "off, as under npm start"}):` +
          ` CPU/pair ${((e.cpu - e.proxyCpu) / Math.max(e.delivered, 1) / (p.cpu / Math.max(p.delivered, 1))).toFixed(2)}x, RSS/pair ${((e.rss - e.proxyRss) / Math.max(e.delivered, 1) / (p.rss / Math.max(p.delivered, 1))).toFixed(2)}x`);
      }
      console.log(`  load average: ${loadAverage()}`);
    }
  } finally {
    for (const c of closers.reverse()) await Promise.resolve(c()).catch(() => {});
    await stack.stop();
    if (process.env.BENCH_PROFILE) console.log(gatewayProfiles(process.env.BENCH_PROFILE).join("\n"));
  }
}
