// Issue 12: does the gateway egress add a round trip to the peer over direct connect()? The edge's
// application sends one message to a plaintext Prosody 0.12 (a new outbound stream: TCP handshake,
// headers, features, dialback, stanza) once with S2S_EGRESS=direct and once with S2S_EGRESS=gateway.
// A capture on `lo` (tcpdump) of the connection to Prosody's s2s port counts round trips from the
// wire, not time: 1 for the TCP handshake, then one per turn where the peer answers what our side
// sent, up to the segment that carries the message. Figures are the count per mode and the ratio.

import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { C2sClient } from "../scripts/interop/lib/c2s.mjs";
import { hasTcpdump, startCapture } from "../scripts/interop/lib/pcap.mjs";
import { startStack } from "../scripts/interop/lib/stack.mjs";
import { PASSWORD } from "../scripts/interop/lib/topology.mjs";

interface Packet { t: number; src: string; sport: number; dst: string; dport: number; syn: boolean; ack: boolean; payload: string }

/** Round trips on the first connection to `peer`:5269 until the segment carrying `marker`. */
export function roundTrips(packets: Packet[], peer: string, marker: string): number | undefined {
  const syn = packets.find((p) => p.syn && !p.ack && p.dst === peer && p.dport === 5269);
  if (!syn) return undefined;
  const conn = packets.filter((p) => (p.src === syn.src && p.sport === syn.sport) || (p.dst === syn.src && p.dport === syn.sport));
  let rtt = 1; // SYN -> SYN/ACK
  let last: "us" | "peer" | undefined;
  for (const p of conn) {
    if (p.payload.length === 0) continue;
    const from = p.src === peer ? "peer" : "us";
    if (from === "peer" && last === "us") rtt++;
    last = from;
    if (from === "us" && p.payload.includes(marker)) return rtt;
  }
  return undefined;
}

export default async function bench(): Promise<void> {
  if (process.getuid?.() !== 0) return console.log("skipped: needs root (Prosody runs as its own user; see .ci/run)");
  if (!hasTcpdump()) return console.log("skipped: tcpdump is not installed");
  const results: Record<string, number | undefined> = {};
  for (const egress of ["direct", "gateway"] as const) {
    const stack = await startStack({ tls: false, edgeDirectTls: false, ejabberd: false, name: `bench-egress-${egress}`, ...(egress === "gateway" ? { egress } : {}) });
    try {
      const alice = await C2sClient.login({ host: stack.ip.prosody, port: 5222, jid: `alice@${stack.domains.prosody}`, password: PASSWORD });
      const dir = join(stack.dir, "pcap");
      mkdirSync(dir, { recursive: true });
      const cap = await startCapture({ file: join(dir, "egress.pcap"), filter: `tcp port 5269 and host ${stack.ip.prosody}`, logFile: join(dir, "tcpdump.log") });
      const marker = `rtt-${egress}-${Date.now()}`;
      const res = await stack.api("/api/v1/stanzas", {
        method: "POST", headers: { "content-type": "application/xml" },
        body: `<message xmlns='jabber:client' from='app@${stack.domains.edge}' to='alice@${stack.domains.prosody}'><body>${marker}</body></message>`,
      });
      if (res.status !== 202) throw new Error(`POST /api/v1/stanzas: ${res.status}`);
      await alice.waitForMessage(marker, 30_000);
      const packets = (await cap.stop()) as Packet[];
      results[egress] = roundTrips(packets, stack.ip.prosody, marker);
      await alice.close();
    } finally {
      await stack.stop();
    }
  }
  const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  console.log(`  new outbound stream to Prosody, first stanza: direct connect() ${results.direct ?? "?"} RTT, gateway egress ${results.gateway ?? "?"} RTT` +
    `  ratio ${results.direct && results.gateway ? (results.gateway / results.direct).toFixed(2) : "?"}x  target 1.00x  (load ${load})`);
}
