// Issue 11 items 2 and 5: what one S2S stream costs the runtime before any of our code runs, under
// `wrangler dev` (the same workerd processes the interop benches measure). A Prosody host with many
// vhosts opens one connection per domain pair, and the edge gives each connection a WebSocket (from
// the gateway) and a StreamSession Durable Object: this prints the resident memory each of those adds
// to workerd, with empty Durable Objects (bench/runtime-floor/worker.js), what N WebSockets cost
// when all are accepted by ONE Durable Object (kind "manyws": the WebSocket's own cost apart from a
// DO's, what streams sharing a DO, e.g. the direct XEP-0468 peers of one client address, would cost),
// and what N streams cost multiplexed on one WebSocket to one DO (~8 KiB of state each, the edge's JS
// heap per pair). It separates the floor we cannot go under with a DO per stream from what our objects
// add (the fan-out in bench/interop-handshake.bench.ts measures the edge itself).
//
// Per kind, a fresh `wrangler dev`: N objects (N WebSockets), RSS growth of every workerd process
// (wrangler dev runs two: its proxy and the Worker) after 2 s, then 20 s after the WebSockets closed
// (is it given back?), and workerd CPU seconds spent setting them up (the client's own CPU is not
// counted). Each row also gives the share of the workerd that is wrangler dev's proxy (the one listening
// on the port we connect to; it forwards every request and WebSocket to the Worker's workerd and has no
// counterpart in production): the rest is what the Worker's own workerd, the one production runs,
// spends. RUNTIME_FLOOR_N (default 400) sets N. About 2-3 minutes.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";
import { freePort } from "../scripts/interop/lib/ports.mjs";
import { startProcess, waitForPort } from "../scripts/interop/lib/proc.mjs";
import { cpuSeconds, loadAverage, rssBytes } from "./lib/procstat.js";

const here = dirname(fileURLToPath(import.meta.url));
const N = Number(process.env.RUNTIME_FLOOR_N ?? 400);
const KINDS = [
  ["plain", "Durable Object answering one request"],
  ["sql", "the same with one SQLite row"],
  ["ws", "Durable Object + accepted WebSocket (a stream today)"],
  ["manyws", "WebSocket accepted by one DO shared by all N"],
  ["mux", "stream multiplexed on one WebSocket to one DO"],
] as const;

interface Figures { perKiB: number; afterKiB: number; cpuMs: number; proxyKiB: number; proxyCpuMs: number }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function open(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  return ws;
}

async function measure(kind: string): Promise<Figures> {
  const port = await freePort();
  const state = mkdtempSync(join(tmpdir(), "runtime-floor-"));
  // Its own process group, stopped by its PID (the group we created) at the end (proc.mjs).
  const wrangler = startProcess(process.execPath, [join(here, "../node_modules/wrangler/bin/wrangler.js"), "dev", "--port", String(port), "--ip", "127.0.0.1", "--persist-to", state], {
    cwd: join(here, "runtime-floor"),
    env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
  });
  const pid = wrangler.pid;
  const base = `http://127.0.0.1:${port}`;
  const workerd = () => rssBytes([pid], /workerd/) / 1024;
  // wrangler dev's proxy: the workerd listening on our port (the Worker's own listens on port 0).
  const proxyArgs = new RegExp(`entry=127\\.0\\.0\\.1:${port}\\b`);
  const proxyKiB = () => rssBytes([pid], /workerd/, proxyArgs) / 1024;
  const sockets: WebSocket[] = [];
  try {
    await waitForPort("127.0.0.1", port, { timeoutMs: 60_000, proc: wrangler });
    await (await fetch(`${base}/plain?n=1&off=100000`)).text(); // the isolate is up
    await sleep(1000);
    const r0 = workerd();
    const c0 = cpuSeconds([pid], /workerd/);
    const pr0 = proxyKiB();
    const pc0 = cpuSeconds([pid], /workerd/, proxyArgs);
    if (kind === "ws") {
      for (let i = 0; i < N; i++) sockets.push(await open(`ws://127.0.0.1:${port}/ws?id=s${i}`));
    } else if (kind === "manyws") {
      for (let i = 0; i < N; i++) sockets.push(await open(`ws://127.0.0.1:${port}/manyws?id=one&tag=s${i}`));
    } else if (kind === "mux") {
      const ws = await open(`ws://127.0.0.1:${port}/mux?id=one`);
      sockets.push(ws);
      for (let i = 0; i < N; i++) ws.send(`open s${i}`);
    } else {
      for (let off = 0; off < N; off += 50) await (await fetch(`${base}/${kind}?n=${Math.min(50, N - off)}&off=${off}`)).text();
    }
    await sleep(2000);
    const r1 = workerd();
    const c1 = cpuSeconds([pid], /workerd/);
    const pr1 = proxyKiB();
    const pc1 = cpuSeconds([pid], /workerd/, proxyArgs);
    if (pr1 === 0) throw new Error("wrangler dev's proxy workerd not found by its command line");
    for (const s of sockets) s.close(1000);
    await sleep(20_000);
    const r2 = workerd();
    return { perKiB: (r1 - r0) / N, afterKiB: (r2 - r0) / N, cpuMs: ((c1 - c0) * 1000) / N, proxyKiB: (pr1 - pr0) / N, proxyCpuMs: ((pc1 - pc0) * 1000) / N };
  } finally {
    await wrangler.stop();
    rmSync(state, { recursive: true, force: true });
  }
}

export default async function bench(): Promise<void> {
  const rows: Array<[string, Figures]> = [];
  const byKind: Record<string, Figures> = {};
  for (const [kind, label] of KINDS) rows.push([label, (byKind[kind] = await measure(kind))]);
  console.log(`workerd resident memory and CPU per object, ${N} objects, under wrangler dev (each; lower is better):`);
  for (const [label, r] of rows) {
    console.log(`  ${label.padEnd(55)} ${r.perKiB.toFixed(1).padStart(7)} KiB, 20 s after closing ${r.afterKiB.toFixed(1)} KiB; CPU to set it up ${r.cpuMs.toFixed(2)} ms`);
  }
  console.log(`of which wrangler dev's proxy (no counterpart in production) / the Worker's own workerd:`);
  for (const [label, r] of rows) {
    console.log(`  ${label.padEnd(55)} ${r.proxyKiB.toFixed(1).padStart(7)} / ${(r.perKiB - r.proxyKiB).toFixed(1)} KiB; CPU ${r.proxyCpuMs.toFixed(2)} / ${(r.cpuMs - r.proxyCpuMs).toFixed(2)} ms`);
  }
  const own = (k: string) => ({ kib: byKind[k]!.perKiB - byKind[k]!.proxyKiB, ms: byKind[k]!.cpuMs - byKind[k]!.proxyCpuMs });
  const ratio = (a: string, b: string) =>
    `memory ${(byKind[a]!.perKiB / Math.max(byKind[b]!.perKiB, 0.1)).toFixed(1)}x, CPU ${(byKind[a]!.cpuMs / Math.max(byKind[b]!.cpuMs, 0.001)).toFixed(1)}x` +
    ` (the Worker's workerd alone: memory ${(own(a).kib / Math.max(own(b).kib, 0.1)).toFixed(1)}x, CPU ${(own(a).ms / Math.max(own(b).ms, 0.001)).toFixed(1)}x)`;
  console.log(`  a stream as its own DO + WebSocket / multiplexed: ${ratio("ws", "mux")}`);
  console.log(`  a stream as its own DO + WebSocket / its WebSocket on a shared DO: ${ratio("ws", "manyws")}`);
  console.log(`  its WebSocket on a shared DO / multiplexed: ${ratio("manyws", "mux")}`);
  console.log(`  load average: ${loadAverage()}`);
}
