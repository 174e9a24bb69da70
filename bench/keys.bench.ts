// Key verification rate (WebCrypto, our DialbackKeys) against node:crypto createHmac doing the same
// work: SHA-256 of the secret once, then one HMAC-SHA256 per key and a constant-time comparison.
// Target (issue #2): >= 0.25x. Contenders: bench/keys-contenders.ts.
//
// Measured twice, because the answer depends on the runtime:
//  - under Node, where every crypto.subtle call is an async job on the libuv thread pool (tens of
//    microseconds), while createHmac is a synchronous call: bare subtle.sign itself is far below
//    0.25x there, and no WebCrypto code can beat bare subtle.sign;
//  - inside workerd (Miniflare, the runtime the edge is deployed on), where crypto.subtle is
//    BoringSSL called directly. workerd freezes clocks while code runs, so each contender is timed
//    from outside, around one request that verifies all keys (the request overhead counts against us).
// Rows: verify one at a time (drive() before it batched), verifyMany in batches (what drive() does
// with many pending db:verify), and bare subtle.sign one at a time / batched, for reference.

import { BATCH, CONTENDERS, prepare, run, type Contender } from "./keys-contenders.js";
import { race, startInWorkerd } from "./contenders.js";

const N = 20000;
const ROUNDS = 5;
const LABELS: Record<Contender, string> = {
  createHmac: "createHmac (baseline)",
  verify: "DialbackKeys.verify, one at a time",
  verifyMany: `DialbackKeys.verifyMany, ${BATCH} at once`,
  subtleSign: "bare subtle.sign, one at a time",
  subtleSignBatch: `bare subtle.sign, ${BATCH} at once`,
};

function report(title: string, best: Record<Contender, number>): void {
  console.log(title);
  const base = N / best.createHmac;
  for (const c of CONTENDERS) {
    const rate = N / best[c];
    console.log(`  ${LABELS[c].padEnd(36)} ${rate.toFixed(0).padStart(8)}/s  ratio ${(rate / base).toFixed(2)}x`);
  }
}

async function inWorkerd(): Promise<Record<Contender, number>> {
  const w = await startInWorkerd("bench/keys-contenders.ts", N);
  try {
    return await race(CONTENDERS, ROUNDS, N, (c) => w.run(c));
  } finally {
    await w.dispose();
  }
}

export default async function bench(): Promise<void> {
  await prepare(N);
  report(`Node ${process.version} (${N} keys, best of ${ROUNDS}):`, await race(CONTENDERS, ROUNDS, N, run));
  try {
    report(`workerd via Miniflare (${N} keys per request, best of ${ROUNDS}):`, await inWorkerd());
  } catch (e) {
    console.log(`workerd run not possible here: ${(e as Error).message}`);
  }
  console.log("target: >= 0.25x");
}
