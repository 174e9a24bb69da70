// Engine only: time and memory to verify 10,000 domain pairs multiplexed on one stream, per pair,
// against a baseline measured in the same run: computing one XEP-0185 key (WebCrypto HMAC-SHA256),
// the unavoidable cryptographic cost of a pair. XML parsing and key work are outside the timings
// (elements are pre-built; keys pre-computed), so this is the protocol core's own overhead.
// Target (issue 3): well under 1 KiB of state per verified pair.

import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Element } from "ltx";
import { DialbackKeys } from "../src/dialback/keys.js";
import { DEFAULT_ENGINE_LIMITS, S2SStream, type EngineLimits, type PolicyView, type RemotePolicy } from "../src/engine/index.js";
import { asDomain, asStreamId, type Domain } from "../src/types.js";

const N = 10_000;
/** Keeps the last measured stream reachable until the next run starts. */
let sink: S2SStream | undefined;
const ALLOW: RemotePolicy = { allowed: true, minLevel: "verified", bidi: false, onPairFailure: "keep-stream" };

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

function policy(hosted: (d: Domain) => boolean): PolicyView {
  const limits: EngineLimits = { ...DEFAULT_ENGINE_LIMITS, maxPendingPerStream: N, maxQueuedPerPair: 10 };
  return { isHosted: hosted, forRemote: () => ALLOW, limits: () => limits };
}

function heap(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

const senders = Array.from({ length: N }, (_, i) => asDomain(`s${i}.capulet.example`));
const target = asDomain("montague.example");
const header = {
  xmlns: "jabber:server",
  "xmlns:db": "jabber:server:dialback",
  "xmlns:stream": "http://etherx.jabber.org/streams",
  from: "capulet.example",
  to: "montague.example",
  version: "1.0",
};

/** Receiving role: N db:result requests in, N verify actions out, N verdicts in, N type='valid' out. */
function receivingRun(requests: Element[]): { ms: number; bytes: number; snapshotBytes: number; stream: S2SStream } {
  const before = heap();
  const t0 = performance.now();
  const s = new S2SStream({
    role: "receiving",
    policy: policy((d) => d === target),
    transport: { secure: true, canStartTls: false },
    now: 0,
    newStreamId: () => asStreamId("bench-stream"),
  });
  s.handleOpen(header, 0);
  s.drainActions();
  for (const r of requests) s.handleElement(r, 1);
  const handles: number[] = [];
  for (let a = s.pollAction(); a; a = s.pollAction()) if (a.type === "verify") handles.push(a.handle);
  for (const h of handles) s.handleVerifyResult(h, { type: "valid" }, 2);
  let sent = 0;
  for (let a = s.pollAction(); a; a = s.pollAction()) if (a.type === "send") sent++;
  const ms = performance.now() - t0;
  if (handles.length !== N || sent !== N || s.validPairCount("inbound") !== N) throw new Error("bench: receiving run failed");
  const bytes = heap() - before;
  const snapshotBytes = JSON.stringify(s.snapshot()).length;
  return { ms, bytes, snapshotBytes, stream: s };
}

/** Originating role: N authenticate() calls, N keys in (pre-computed), N db:result out, N valid in. */
function originatingRun(keys: string[], answers: Element[]): { ms: number; bytes: number; stream: S2SStream } {
  const before = heap();
  const t0 = performance.now();
  const hosted = new Set<string>(senders);
  const s = new S2SStream({
    role: "initiating",
    policy: policy((d) => hosted.has(d)),
    transport: { secure: true, canStartTls: false },
    now: 0,
    local: senders[0]!,
    remote: target,
  });
  s.start(0);
  s.handleOpen({ ...header, from: "montague.example", to: "capulet.example", id: "bench-stream" }, 0);
  s.handleElement(new Element("stream:features").c("dialback", { xmlns: "urn:xmpp:features:dialback" }).c("errors").root(), 0);
  for (const d of senders) s.authenticate(d, target, 1);
  let i = 0;
  for (let a = s.pollAction(); a; a = s.pollAction()) if (a.type === "key" && a.op === "generate") s.handleKeyGenerated(a.handle, keys[i++]!, 1);
  s.drainActions();
  for (const a of answers) s.handleElement(a, 2);
  s.drainActions();
  const ms = performance.now() - t0;
  if (s.validPairCount("outbound") !== N) throw new Error("bench: originating run failed");
  const bytes = heap() - before;
  return { ms, bytes, stream: s };
}

export default async function bench(): Promise<void> {
  const dk = new DialbackKeys("bench-secret-0123456789abcdef");
  // Baseline: one XEP-0185 key per pair, sequentially awaited as a shell would (after a warm-up).
  for (let i = 0; i < 2000; i++) await dk.generate({ receiving: target, originating: senders[i]!, streamId: asStreamId("warm") });
  const t = performance.now();
  const keys: string[] = [];
  for (const sdr of senders) keys.push(await dk.generate({ receiving: target, originating: sdr, streamId: asStreamId("bench-stream") }));
  const keyMsPerPair = (performance.now() - t) / N;

  const requests = senders.map((sdr, i) => new Element("db:result", { from: sdr, to: target }).t(keys[i]!));
  const answers = senders.map((sdr) => new Element("db:result", { from: target, to: sdr, type: "valid" }));

  // Warm up the JIT once, then take the median of five runs (the machine is shared and noisy).
  receivingRun(requests);
  originatingRun(keys, answers);
  // Time: median of five runs. Memory: each run measures the heap growth while its own stream is
  // alive (returned, so the optimiser cannot drop it); earlier runs are released first.
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const recvMs: number[] = [];
  const recvBytes: number[] = [];
  const origMs: number[] = [];
  const origBytes: number[] = [];
  let snapshotBytes = 0;
  for (let i = 0; i < 5; i++) {
    let r: ReturnType<typeof receivingRun> | undefined = receivingRun(requests);
    recvMs.push(r.ms);
    recvBytes.push(r.bytes);
    snapshotBytes = r.snapshotBytes;
    sink = r.stream;
    r = undefined;
    let o: ReturnType<typeof originatingRun> | undefined = originatingRun(keys, answers);
    origMs.push(o.ms);
    origBytes.push(o.bytes);
    sink = o.stream;
    o = undefined;
    sink = undefined;
  }
  const recv = { ms: median(recvMs), bytes: median(recvBytes), snapshotBytes };
  const orig = { ms: median(origMs), bytes: median(origBytes) };

  const us = (ms: number) => `${((ms / N) * 1000).toFixed(2)} µs`;
  console.log(`${N} pairs on one stream (engine only; XML parsing and key work excluded; median of 5 runs)`);
  console.log(`baseline: one XEP-0185 key (WebCrypto HMAC-SHA256): ${us(keyMsPerPair * N)} per pair`);
  console.log(`receiving role: ${us(recv.ms)} per pair, ratio ${(recv.ms / N / keyMsPerPair).toFixed(3)}x of a key computation`);
  console.log(`originating role: ${us(orig.ms)} per pair, ratio ${(orig.ms / N / keyMsPerPair).toFixed(3)}x of a key computation`);
  console.log(`memory, receiving stream with ${N} verified pairs: ${(recv.bytes / N).toFixed(0)} B per pair (target < 1024 B)`);
  console.log(`memory, originating stream with ${N} verified pairs: ${(orig.bytes / N).toFixed(0)} B per pair (target < 1024 B)`);
  console.log(`snapshot (hibernation) JSON: ${(recv.snapshotBytes / N).toFixed(0)} B per pair`);
}
