// CPU time and resident memory of process trees, from /proc (Linux), for the interop benches.

import { readdirSync, readFileSync } from "node:fs";

const TICK = 100; // USER_HZ on Linux

interface Row { parent: number; name: string; ticks: number; rssKiB: number }

function table(): Map<number, Row> {
  const rows = new Map<number, Row>();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const f = stat.slice(close + 2).split(" ");
      // statm's second field is resident pages (4 KiB here).
      const rssPages = Number(readFileSync(`/proc/${d}/statm`, "utf8").split(" ")[1]);
      rows.set(Number(d), { parent: Number(f[1]), name: stat.slice(stat.indexOf("(") + 1, close), ticks: Number(f[11]) + Number(f[12]), rssKiB: rssPages * 4 });
    } catch {
      /* exited */
    }
  }
  return rows;
}

const cmdline = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch {
    return "";
  }
};

function inTrees(rows: Map<number, Row>, roots: number[], comm?: RegExp, args?: RegExp): Row[] {
  const out: Row[] = [];
  for (const [pid, r] of rows) {
    let p: number | undefined = pid;
    while (p && p > 1 && !roots.includes(p)) p = rows.get(p)?.parent;
    if (p && p > 1 && (!comm || comm.test(r.name)) && (!args || args.test(cmdline(pid)))) out.push(r);
  }
  return out;
}

/** CPU seconds (user + system) of `roots` and their descendants whose command matches `comm` (and whose
 *  command line matches `args`, when given). */
export function cpuSeconds(roots: number[], comm?: RegExp, args?: RegExp): number {
  return inTrees(table(), roots, comm, args).reduce((s, r) => s + r.ticks, 0) / TICK;
}

/** Resident memory in bytes of `roots` and their descendants whose command matches `comm` (and whose
 *  command line matches `args`, when given). */
export function rssBytes(roots: number[], comm?: RegExp, args?: RegExp): number {
  return inTrees(table(), roots, comm, args).reduce((s, r) => s + r.rssKiB, 0) * 1024;
}

/** `uptime`'s load averages, as printed. */
export const loadAverage = (): string => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
