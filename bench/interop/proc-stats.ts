// What the interop bench reads from /proc about the receivers: CPU time (utime + stime), resident
// memory (VmRSS) and read syscalls, each summed over a process tree. Linux only; the bench runs as
// root, so every process's files are readable.

import { readdirSync, readFileSync } from "node:fs";

const TICK = 100; // USER_HZ on Linux

interface Proc {
  pid: number;
  ppid: number;
  comm: string;
  ticks: number;
}

function processes(): Proc[] {
  const out: Proc[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const f = stat.slice(close + 2).split(" ");
      out.push({ pid: Number(d), ppid: Number(f[1]), comm: stat.slice(stat.indexOf("(") + 1, close), ticks: Number(f[11]) + Number(f[12]) });
    } catch {
      /* exited */
    }
  }
  return out;
}

/** The processes under `roots` (themselves included) whose command matches `comm`. */
export function tree(roots: number[], comm?: RegExp): Proc[] {
  const all = processes();
  const parent = new Map(all.map((p) => [p.pid, p.ppid]));
  const inTree = (pid: number): boolean => {
    for (let p: number | undefined = pid; p && p > 1; p = parent.get(p)) if (roots.includes(p)) return true;
    return false;
  };
  return all.filter((p) => inTree(p.pid) && (!comm || comm.test(p.comm)));
}

/** CPU seconds (user + system) of `roots` and all their descendants whose command matches `comm`. */
export function cpuSeconds(roots: number[], comm?: RegExp): number {
  return tree(roots, comm).reduce((s, p) => s + p.ticks, 0) / TICK;
}

function statusField(pid: number, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Resident memory in MB (VmRSS) of the tree's processes matching `comm`. */
export function rssMb(roots: number[], comm?: RegExp): number {
  return tree(roots, comm).reduce((s, p) => s + statusField(p.pid, "VmRSS"), 0) / 1024;
}

/** read(2)-family syscalls so far (/proc/<pid>/io syscr) of the tree's processes matching `comm`. */
export function readCalls(roots: number[], comm?: RegExp): number {
  let n = 0;
  for (const p of tree(roots, comm)) {
    try {
      n += Number(/^syscr:\s+(\d+)/m.exec(readFileSync(`/proc/${p.pid}/io`, "utf8"))?.[1] ?? 0);
    } catch {
      /* exited */
    }
  }
  return n;
}

/** The 1, 5 and 15 minute load averages, as `uptime` prints them. */
export function loadAverage(): string {
  return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(", ");
}

/**
 * workerd's two processes under wrangler dev apart, RSS in MB: the one running the Worker and its
 * Durable Objects, and wrangler dev's own proxy in front of it (its ProxyWorker listens on the edge's
 * port and carries every request and WebSocket, the gateway's included; its inspector proxy keeps the
 * Worker's log lines until a DevTools client attaches; production has no such process).
 */
export function workerdApart(stack: { edge: { proc: { pid: number }; port: number } }): { worker: number; proxy: number } {
  const out = { worker: 0, proxy: 0 };
  for (const p of tree([stack.edge.proc.pid], /workerd/)) {
    let cmd = "";
    try {
      cmd = readFileSync(`/proc/${p.pid}/cmdline`, "utf8");
    } catch {
      continue; // exited
    }
    out[cmd.includes(`entry=127.0.0.1:${stack.edge.port}`) ? "proxy" : "worker"] += rssMb([p.pid]);
  }
  return out;
}
