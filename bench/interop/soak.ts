// Issue 11.5: memory plateau. 1,000,000 messages over one S2S stream into the edge (through the
// gateway, delivered to its local app), with the RSS of workerd and of the gateway printed every
// STEP messages once the edge has delivered them. The sender is the test harness (SYNTHETIC: hundreds
// of stanzas per TCP read): a real Prosody sends ~1,500/s here, so a million would take 11 minutes.
//
// Second half (section `pairs`, pairSoak below): 10,000 sender domains (BENCH_SOAK_PAIRS) claimed by
// the harness on 4 streams (BENCH_SOAK_STREAMS) with XEP-0220 multiplexing, each verified by the edge
// against the harness as the domains' Authoritative Server (SRV records on the harness's DoH endpoint,
// DOH_URL), one message per pair; RSS of workerd (the Worker's process and wrangler dev's proxy apart)
// and of the gateway, and (BENCH_HEAP=1) the Worker's JS heap after a full GC, every BENCH_SOAK_PAIR_STEP pairs once
// their messages were delivered, then 30 s after the streams were closed. The edge's limits are its
// defaults: claims are paced under the verification budget (a burst of 2,000 db:verify toward one
// authority address, then 20/s), so 10,000 pairs take about 8 minutes.

import { Element } from "ltx";
import type { Stack } from "../../scripts/interop/lib/stack.mjs";
import type { RunningHarness } from "../../test/harness/server.js";
import { loadAverage, rssMb, tree, workerdApart } from "./proc-stats.js";
import { InspectorProfiler } from "./profile.js";

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

// ---- issue 11.5, second half: 10,000 domain pairs over a few streams

const PAIRS = Number(process.env.BENCH_SOAK_PAIRS ?? 10_000);
const STREAMS = Number(process.env.BENCH_SOAK_STREAMS ?? 4);
const PAIR_STEP = Number(process.env.BENCH_SOAK_PAIR_STEP ?? 1_000);
/** Claims awaiting the edge's verdict per stream (the edge allows MAX_PENDING_DIALBACK = 1000). */
const WINDOW = 50;
/** After the streams are closed, how long before the last RSS reading. */
const AFTER_CLOSE_MS = 30_000;
/**
 * The edge's verification budget toward one authority address (src/budget/verification-budget.ts,
 * defaults kept): a burst of VERIFY_BURST_PER_AUTHORITY = 2000 db:verify, then
 * VERIFY_RATE_PER_AUTHORITY = 20/s. Every d<i>.peer.test resolves to the harness's one address, so
 * the sender paces its claims below that (a refused claim is a failed pair, and MAX_FAILED_PAIRS = 5
 * of them end the stream): the run measures memory per pair, not the rate limit.
 */
const CLAIM_BURST = 1_900;
const CLAIM_RATE = 18;

/** The sender domains of the pair soak; each needs an SRV record pointing at the harness. */
export const pairDomain = (i: number) => `d${i}.peer.test`;
export const pairSoakCount = PAIRS;

/**
 * The harness (peer.test, SYNTHETIC sender) opens STREAMS streams to the edge through the gateway
 * and claims PAIRS distinct sender domains on them (XEP-0220 multiplexing, WINDOW claims in flight
 * per stream), each verified by the edge against the harness's authority listener (SRV through the
 * harness's DoH endpoint, config.servesSubdomainsOf = peer.test); one message from each verified
 * pair to the edge's app. RSS of workerd and the gateway every PAIR_STEP pairs once their messages
 * were delivered, then once more AFTER_CLOSE_MS after the streams were closed.
 */
export async function pairSoak(stack: Stack, harness: RunningHarness): Promise<void> {
  const to = stack.domains.edge;
  const peer = harness.peer;
  const wake = () => Promise.race([peer.changed(), new Promise((r) => setTimeout(r, 50))]);
  const jobs = Array.from({ length: STREAMS }, () => peer.addJob({ kind: "originate", to, stanzas: [] }));
  for (const job of jobs) peer.dialTcp(job, stack.ip.gateway, 5269);
  const deadline = Date.now() + 30_000;
  while (jobs.some((j) => j.state !== "ready" && j.state !== "sent")) {
    const bad = jobs.find((j) => ["refused", "closed"].includes(j.state));
    if (bad || Date.now() > deadline) throw new Error(`pair soak: stream to ${to}: ${JSON.stringify(bad ?? jobs)}`);
    await wake();
  }
  const edge = [stack.edge.proc.pid];
  const gw = [stack.gateway.proc.pid];
  // BENCH_HEAP=1: the Worker's JS heap after a full GC (through wrangler's DevTools inspector,
  // bench/interop/profile.ts): what of workerd's RSS is live objects of ours. Read after the RSS
  // figures (a forced GC lowers RSS). The inspector runs only then (scripts/lib/devtools.mjs).
  const heap = stack.edge.inspectorPort ? await InspectorProfiler.connect(stack.edge.inspectorPort).catch(() => undefined) : undefined;
  const reading = async () => {
    const w = workerdApart(stack);
    const rss = `workerd ${rssMb(edge, /workerd/).toFixed(1)} MB (the Worker's ${w.worker.toFixed(1)} + wrangler dev's proxy ${w.proxy.toFixed(1)}), gateway ${rssMb(gw).toFixed(1)} MB`;
    // workerd takes inspector messages while the isolate runs something: an idle edge (before the first
    // claim, after the close) is poked with inbox reads until the answer came.
    let settled = false;
    const pending = heap?.heapUsed().then((b) => `${(b / 1024 / 1024).toFixed(1)} MB (committed ${(heap.lastTotal / 1024 / 1024).toFixed(1)})`, (e: Error) => `n/a (${e.message})`).finally(() => (settled = true));
    while (pending && !settled) await Promise.race([pending, new Promise((r) => setTimeout(r, 200)).then(() => inboxHead(stack))]);
    const used = await pending;
    return `${rss}, Worker JS heap after GC ${used ?? "n/a (BENCH_HEAP=1 reads it)"}`;
  };
  const base = await inboxHead(stack);
  const curve: string[] = [`       0: ${await reading()} (${STREAMS} streams open, peer.test verified on each)`];
  const inFlight = jobs.map(() => new Map<string, number>()); // domain -> pair index, per stream
  let tokens = CLAIM_BURST;
  let refilled = performance.now();
  let next = 0;
  let sent = 0;
  let rr = 0;
  const perStream = jobs.map(() => 0);
  const t0 = performance.now();
  try {
    for (let target = Math.min(PAIR_STEP, PAIRS); ; target = Math.min(target + PAIR_STEP, PAIRS)) {
      // Claim pairs up to `target`, and send each one's message once the edge said 'valid'.
      while (sent < target) {
        const now = performance.now();
        tokens = Math.min(CLAIM_BURST, tokens + ((now - refilled) / 1000) * CLAIM_RATE);
        refilled = now;
        while (next < target && tokens >= 1) {
          // Round robin over the streams with room in their window, so each carries PAIRS / STREAMS.
          const free = jobs.findIndex((_, k) => inFlight[(rr + k) % STREAMS]!.size < WINDOW);
          if (free < 0) break;
          const k = (rr + free) % STREAMS;
          rr = (k + 1) % STREAMS;
          perStream[k]!++;
          const d = pairDomain(next);
          if (!peer.claimOn(jobs[k]!.id, d)) throw new Error(`pair soak: stream ${k} is gone (${jobs[k]!.state}, ${jobs[k]!.streamError ?? ""})`);
          inFlight[k]!.set(d, next++);
          tokens--;
        }
        for (let k = 0; k < STREAMS; k++) {
          const claims = jobs[k]!.claims;
          for (const [d, i] of inFlight[k]!) {
            const v = claims?.get(d);
            if (!v || v.type === "pending") continue;
            if (v.type !== "valid") throw new Error(`pair soak: ${d} on stream ${k}: ${v.type}${v.condition ? ` (${v.condition})` : ""}`);
            inFlight[k]!.delete(d);
            peer.sendOn(jobs[k]!.id, new Element("message", { from: `u@${d}`, to: `app@${to}`, id: `p${i}`, type: "chat" }).c("body").t(`pair ${i}`).root());
            sent++;
          }
        }
        if (jobs.some((j) => j.state === "closed")) throw new Error(`pair soak: a stream closed: ${JSON.stringify(jobs.map((j) => [j.state, j.streamError]))}`);
        if (sent < target) await wake();
      }
      const started = performance.now();
      while ((await inboxHead(stack)) < base + sent) {
        if (performance.now() - started > 120_000) throw new Error(`pair soak: the edge did not deliver the messages of ${sent} pairs`);
        await new Promise((r) => setTimeout(r, 200));
      }
      curve.push(`${String(sent).padStart(8)}: ${await reading()} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
      if (sent === PAIRS) break;
    }
  } catch (e) {
    console.log(`RSS pair soak stopped after ${sent} pairs (claims per stream ${perStream.join(", ")}); the curve so far:`);
    for (const line of curve) console.log(`  ${line}`);
    throw e;
  }
  for (const job of jobs) peer.closeOn(job.id);
  const closed = performance.now();
  while (jobs.some((j) => j.state !== "closed") && performance.now() - closed < 10_000) await wake();
  await new Promise((r) => setTimeout(r, AFTER_CLOSE_MS));
  curve.push(`  closed: ${await reading()} (${AFTER_CLOSE_MS / 1000} s after closing the ${STREAMS} streams` +
    `${jobs.some((j) => j.state !== "closed") ? "; some did not end: " + jobs.map((j) => j.state).join(",") : ""})`);
  console.log(`RSS pair soak: ${PAIRS} sender domains (d<i>.peer.test, each db:result verified by the edge against the harness as authority)` +
    ` over ${STREAMS} streams (${perStream.join(" + ")} pairs) into the edge, one message per pair (SYNTHETIC harness sender); claims paced under the edge's default` +
    ` verification budget (${CLAIM_BURST} then ${CLAIM_RATE}/s, ${WINDOW} in flight per stream); RSS after each ${PAIR_STEP} pairs delivered;` +
    ` load average ${loadAverage()}:`);
  for (const line of curve) console.log(`  ${line}`);
  heap?.close();
}
