// CPU profiles for the interop bench (BENCH_PROFILE=<dir>): the Worker's isolate (all Durable
// Objects run in it under wrangler dev) through wrangler's DevTools inspector proxy, sampled with
// the Chrome DevTools Protocol's Profiler domain; the gateway with `node --cpu-prof` (set up by the
// bench through NODE_OPTIONS). Writes .cpuprofile files (open in Chrome DevTools) and prints the
// functions with the most self time.

import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import WebSocket from "ws";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

/** How long one inspector call may take (a full GC or a profile of minutes answers well within it). */
const CALL_MS = 60_000;

function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer from the inspector within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

export class InspectorProfiler {
  #ws: WebSocket;
  #id = 0;
  #waiting = new Map<number, (r: unknown) => void>();

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on("message", (d) => {
      const m = JSON.parse(d.toString()) as { id?: number; result?: unknown };
      if (m.id !== undefined) this.#waiting.get(m.id)?.(m.result);
    });
  }

  static async connect(port: number): Promise<InspectorProfiler> {
    const targets = (await (await fetch(`http://127.0.0.1:${port}/json`, { signal: AbortSignal.timeout(CALL_MS) })).json()) as { webSocketDebuggerUrl: string; title?: string }[];
    const t = targets.find((x) => !/wrangler/i.test(x.title ?? "")) ?? targets[0];
    if (!t) throw new Error("no inspector target");
    const ws = new WebSocket(t.webSocketDebuggerUrl);
    await withDeadline(new Promise((r, j) => (ws.once("open", r), ws.once("error", j))), CALL_MS, "inspector connection");
    return new InspectorProfiler(ws);
  }

  // Every call has a deadline: an inspector that never answers (a busy or closed isolate) costs the
  // bench one figure, never the whole run (a 2,000-domain fan-out waited on one for 7 minutes).
  #call(method: string, params: object = {}): Promise<unknown> {
    const id = ++this.#id;
    this.#ws.send(JSON.stringify({ id, method, params }));
    return withDeadline(new Promise((r) => this.#waiting.set(id, r)), CALL_MS, method).finally(() => this.#waiting.delete(id));
  }

  /** The isolate's JS heap in use after a full GC (bytes): what the edge's own objects hold. */
  async heapUsed(): Promise<number> {
    await this.#call("HeapProfiler.enable");
    await this.#call("HeapProfiler.collectGarbage");
    const r = (await this.#call("Runtime.getHeapUsage")) as { usedSize: number; totalSize: number };
    this.lastTotal = r.totalSize;
    return r.usedSize;
  }

  /** The heap's size (committed, used or not) at the last heapUsed(). */
  lastTotal = NaN;

  close(): void {
    this.#ws.close();
  }

  async start(): Promise<void> {
    await this.#call("Profiler.enable");
    await this.#call("Profiler.setSamplingInterval", { interval: 200 });
    await this.#call("Profiler.start");
  }

  async stop(file: string): Promise<Profile> {
    const { profile } = (await this.#call("Profiler.stop")) as { profile: Profile };
    writeFileSync(file, JSON.stringify(profile));
    this.#ws.close();
    return profile;
  }
}

/** Self time per function (name url:line), largest first, as "percent  name". */
export function topSelf(profile: Profile, n = 30): string[] {
  const byId = new Map(profile.nodes.map((x) => [x.id, x]));
  const self = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]!)!;
    const dt = profile.timeDeltas[i] ?? 0;
    const f = node.callFrame;
    const key = `${f.functionName || "(anonymous)"} ${f.url.split("/").slice(-2).join("/")}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  }
  const idle = (self.get("(idle) :0") ?? 0) + (self.get("(program) :0") ?? 0) * 0;
  const busy = total - idle;
  const byFile = new Map<string, number>();
  for (const [k, v] of self) {
    const file = k.split(" ").at(-1)!.replace(/:\d+$/, "") || k;
    byFile.set(file, (byFile.get(file) ?? 0) + v);
  }
  const fmt = (m: Map<string, number>, k: number) => [...m.entries()].filter(([x]) => !x.startsWith("(idle)")).sort((a, b) => b[1] - a[1]).slice(0, k)
    .map(([x, v]) => `${((100 * v) / busy).toFixed(1).padStart(5)}%  ${x}`);
  return [`busy ${(busy / 1000).toFixed(0)} ms of ${(total / 1000).toFixed(0)} ms sampled; self time by function:`, ...fmt(self, n), "by file:", ...fmt(byFile, 15)];
}

/** The gateway's .cpuprofile files in `dir` (written when it exits), summarised. */
export function gatewayProfiles(dir: string): string[] {
  const out: string[] = [];
  for (const f of readdirSync(dir).filter((x) => x.endsWith(".cpuprofile"))) {
    const p = JSON.parse(readFileSync(join(dir, f), "utf8")) as Profile;
    if (p.samples.length < 100) continue;
    out.push(`gateway profile ${f}:`, ...topSelf(p));
  }
  return out;
}
