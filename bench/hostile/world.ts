// The hostile bench's world: everything the edge may reach, run by the bench so it can count.
//
// - a DNS-over-HTTPS (JSON) server: the edge's DOH_URL, answering SRV by name or by `*.suffix`;
// - the delivery webhook (DELIVERY_WEBHOOK_URL): records deliveries, or hangs every request;
// - "sinks": TCP listeners at the addresses an attacker's SRV records point to, counting each
//   connection the edge opens (and holding it open, as a tarpit would), e.g. 127.0.0.1:9996 and
//   169.254.169.254:80 (on the loopback interface of the bench's own network namespace);
// - RSS of process trees from /proc.

import { createServer as createHttp, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer, type Socket } from "node:net";
import { readdirSync, readFileSync } from "node:fs";

// ---- DNS over HTTPS (the JSON API the edge's resolver speaks, src/resolve/doh.ts)

export interface Doh {
  url: string;
  /** Rules tried in turn: the SRV data ("prio weight port target.") for a name, or undefined (next rule, then NXDOMAIN). */
  rules: ((name: string) => string[] | undefined)[];
  queries: number;
  close(): Promise<void>;
}

export async function startDoh(host: string): Promise<Doh> {
  const doh = { rules: [], queries: 0 } as unknown as Doh;
  const server = createHttp((req, res) => {
    doh.queries++;
    const u = new URL(req.url ?? "/", "http://doh");
    const name = (u.searchParams.get("name") ?? "").toLowerCase().replace(/\.$/, "");
    let records: string[] | undefined;
    for (const rule of doh.rules) if ((records = rule(name))) break;
    res.writeHead(200, { "content-type": "application/dns-json" });
    res.end(JSON.stringify(records ? { Status: 0, Answer: records.map((data) => ({ name, type: 33, TTL: 60, data })) } : { Status: 3 }));
  });
  const port = await listenOn(server, host);
  doh.url = `http://${host}:${port}/dns-query`;
  doh.close = () => new Promise((r) => server.close(() => r()));
  return doh;
}

// ---- the delivery webhook

export interface Hook {
  url: string;
  mode: "ok" | "hang";
  /** Bodies delivered (answered 204). */
  bodies: string[];
  /** Requests held unanswered while hanging (never answered: a hung upstream). */
  hung: number;
  close(): Promise<void>;
}

export async function startHook(host: string): Promise<Hook> {
  const held: ServerResponse[] = [];
  const hook = { mode: "ok", bodies: [], hung: 0 } as unknown as Hook;
  const server = createHttp(async (req: IncomingMessage, res) => {
    let body = "";
    for await (const c of req) body += c;
    if (hook.mode === "hang") {
      hook.hung++;
      held.push(res);
      return;
    }
    hook.bodies.push(body);
    res.writeHead(204);
    res.end();
  });
  server.keepAliveTimeout = 60_000;
  const port = await listenOn(server, host);
  hook.url = `http://${host}:${port}/hook`;
  hook.close = () => {
    for (const r of held) r.destroy();
    server.closeAllConnections();
    return new Promise((r) => server.close(() => r()));
  };
  return hook;
}

// ---- sinks: where hostile SRV records point

export interface Sink {
  label: string;
  /** Connections accepted so far. */
  accepted: number;
  /** Connections on which the edge sent bytes (e.g. a stream header). */
  spoken: number;
  /** Drops every connection held so far (keeps listening). */
  drop(): void;
  close(): Promise<void>;
}

export async function startSink(host: string, port: number): Promise<Sink> {
  const held = new Set<Socket>();
  const sink = { label: `${host.includes(":") ? `[${host}]` : host}:${port}`, accepted: 0, spoken: 0 } as Sink;
  const server = createServer((s) => {
    sink.accepted++;
    held.add(s);
    s.once("data", () => sink.spoken++);
    s.on("error", () => {});
    s.on("close", () => held.delete(s));
  });
  await listenOn(server, host, port);
  sink.drop = () => {
    for (const s of held) s.destroy();
  };
  sink.close = () => {
    sink.drop();
    return new Promise((r) => server.close(() => r()));
  };
  return sink;
}

function listenOn(server: { listen(port: number, host: string, cb: () => void): unknown; address(): unknown; once(e: string, f: (e: Error) => void): unknown }, host: string, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve((server.address() as { port: number }).port));
  });
}

// ---- memory, from /proc

interface ProcInfo {
  ppid: number;
  comm: string;
  rssKiB: number;
  /** utime + stime, in clock ticks (/proc/<pid>/stat fields 14-15). */
  cpuTicks: number;
}

function processes(): Map<number, ProcInfo> {
  const out = new Map<number, ProcInfo>();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const status = readFileSync(`/proc/${d}/status`, "utf8");
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      const comm = /^Name:\s+(.*)$/m.exec(status)?.[1] ?? "";
      const rssKiB = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.set(Number(d), { ppid, comm, rssKiB, cpuTicks: Number(f[11]) + Number(f[12]) });
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

/** RSS in MiB of every process under `root` (itself included) whose name matches `comm`. */
export function treeRssMiB(root: number, comm?: RegExp): number {
  const procs = processes();
  let kib = 0;
  for (const [pid, p] of procs) {
    let inTree = false;
    for (let q: number | undefined = pid; q && q > 1; q = procs.get(q)?.ppid) if (q === root) inTree = true;
    if (inTree && (!comm || comm.test(p.comm))) kib += p.rssKiB;
  }
  return kib / 1024;
}

/** CPU seconds (user + system) used so far by every process under `root` whose name matches `comm`. */
export function treeCpuSeconds(root: number, comm?: RegExp): number {
  const procs = processes();
  let ticks = 0;
  for (const [pid, p] of procs) {
    let inTree = false;
    for (let q: number | undefined = pid; q && q > 1; q = procs.get(q)?.ppid) if (q === root) inTree = true;
    if (inTree && (!comm || comm.test(p.comm))) ticks += p.cpuTicks;
  }
  return ticks / 100; // USER_HZ is 100 on Linux
}
