// Issue 11.5: memory plateau. 1,000,000 messages over one S2S stream into the edge (through the
// gateway, delivered to its local app), with the RSS of workerd and of the gateway printed every
// STEP messages once the edge has delivered them. The sender is the test harness (SYNTHETIC: hundreds
// of stanzas per TCP read): a real Prosody sends ~1,500/s here, so a million would take 11 minutes.

import { Element } from "ltx";
import type { Stack } from "../../scripts/interop/lib/stack.mjs";
import type { RunningHarness } from "../../test/harness/server.js";
import { loadAverage, rssMb } from "./proc-stats.js";

const TOTAL = Number(process.env.BENCH_SOAK_MESSAGES ?? 1_000_000);
const STEP = Number(process.env.BENCH_SOAK_STEP ?? 100_000);
/** Stanzas handed to the harness's socket before waiting for the edge to catch up. */
const CHUNK = 20_000;

async function inboxHead(stack: Stack): Promise<number> {
  const res = await stack.api("/api/v1/inbox?limit=1");
  return ((await res.json()) as { items: { seq: number }[] }).items[0]?.seq ?? 0;
}

export async function rssSoak(stack: Stack, harness: RunningHarness): Promise<void> {
  const to = stack.domains.edge;
  const job = harness.peer.addJob({ kind: "originate", to, stanzas: [] });
  harness.peer.dialTcp(job, stack.ip.gateway, 5269);
  const deadline = Date.now() + 30_000;
  while (job.state !== "ready" && job.state !== "sent") {
    if (["refused", "closed"].includes(job.state) || Date.now() > deadline) throw new Error(`soak: stream to ${to}: ${JSON.stringify(job)}`);
    await Promise.race([harness.peer.changed(), new Promise((r) => setTimeout(r, 50))]);
  }
  const edge = [stack.edge.proc.pid];
  const gw = [stack.gateway.proc.pid];
  const base = await inboxHead(stack);
  const curve: string[] = [];
  const t0 = performance.now();
  curve.push(`       0: workerd ${rssMb(edge, /workerd/).toFixed(1)} MB, gateway ${rssMb(gw).toFixed(1)} MB`);
  for (let sent = 0; sent < TOTAL; ) {
    const n = Math.min(CHUNK, TOTAL - sent);
    for (let i = 0; i < n; i++) {
      const k = sent + i;
      harness.peer.sendOn(job.id, new Element("message", { from: "u@peer.test", to: `app@${to}`, id: `s${k}`, type: "chat" }).c("body").t(`soak ${k}`).root());
    }
    sent += n;
    const started = performance.now();
    while ((await inboxHead(stack)) < base + sent) {
      if (performance.now() - started > 300_000) throw new Error(`soak: the edge did not receive ${sent} messages`);
      await new Promise((r) => setTimeout(r, 200));
    }
    if (sent % STEP === 0 || sent === TOTAL) {
      curve.push(`${String(sent).padStart(8)}: workerd ${rssMb(edge, /workerd/).toFixed(1)} MB, gateway ${rssMb(gw).toFixed(1)} MB` +
        ` (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    }
  }
  console.log(`RSS soak: ${TOTAL} messages over one stream into the edge (SYNTHETIC harness sender), RSS after each ${STEP} delivered; load average ${loadAverage()}:`);
  for (const line of curve) console.log(`  ${line}`);
}
