// Packet capture for benchmarks: tcpdump (Debian's) on loopback writing a pcap file, and a reader for
// the IPv4/TCP packets in it. Timestamps are the kernel's, taken when a packet crosses `lo`, so they
// are what the receiving server sees, independent of the benchmark's own event loop.

import { existsSync, readFileSync } from "node:fs";
import { startProcess } from "./proc.mjs";

export const hasTcpdump = () => existsSync("/usr/bin/tcpdump") || existsSync("/usr/sbin/tcpdump");

/** Starts `tcpdump -i lo` with a BPF `filter` into `file`; resolves once it is listening. */
export async function startCapture({ file, filter, snaplen = 0, logFile }) {
  const proc = startProcess("tcpdump", ["-i", "lo", "-U", "-n", "-s", String(snaplen), "-B", "16384", "-w", file, filter], { logFile });
  // tcpdump says "listening on lo" on stderr once the socket is bound; the log is written
  // asynchronously, so poll it.
  const deadline = Date.now() + 10_000;
  while (!(logFile && existsSync(logFile) && readFileSync(logFile, "utf8").includes("listening on"))) {
    if (!proc.running) throw new Error(`tcpdump exited; see ${logFile}`);
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    file,
    /** Stops tcpdump (it flushes on SIGTERM) and returns the packets. */
    async stop() {
      await new Promise((r) => setTimeout(r, 1000));
      await proc.stop(3000);
      return readPcap(file);
    },
  };
}

const ipv4 = (b, o) => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;

/**
 * The IPv4/TCP packets of a pcap file: { t (ms), src, sport, dst, dport, syn, ack, fin, rst, payload }.
 */
export function readPcap(file) {
  const b = readFileSync(file);
  if (b.length < 24) return [];
  const magic = b.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const u32 = (o) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const nanos = magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
  const link = u32(20);
  const l2 = link === 1 ? 14 : link === 113 ? 16 : link === 276 ? 20 : link === 0 ? 4 : 0;
  const out = [];
  for (let o = 24; o + 16 <= b.length;) {
    const sec = u32(o);
    const frac = u32(o + 4);
    const len = u32(o + 8);
    const p = o + 16;
    o = p + len;
    if (o > b.length) break;
    const ip = p + l2;
    if ((b[ip] >> 4) !== 4 || b[ip + 9] !== 6) continue;
    const ihl = (b[ip] & 15) * 4;
    const total = b.readUInt16BE(ip + 2);
    const tcp = ip + ihl;
    const off = (b[tcp + 12] >> 4) * 4;
    const flags = b[tcp + 13];
    out.push({
      t: sec * 1000 + (nanos ? frac / 1e6 : frac / 1e3),
      src: ipv4(b, ip + 12), dst: ipv4(b, ip + 16),
      sport: b.readUInt16BE(tcp), dport: b.readUInt16BE(tcp + 2),
      fin: !!(flags & 1), syn: !!(flags & 2), rst: !!(flags & 4), ack: !!(flags & 16),
      payload: b.subarray(tcp + off, Math.min(ip + total, o)).toString("latin1"),
    });
  }
  return out;
}
