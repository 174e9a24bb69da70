// Key verification rate (WebCrypto, our DialbackKeys) against node:crypto createHmac doing the same
// work: SHA-256 of the secret once, then one HMAC-SHA256 per key and a constant-time comparison.
// Target (issue #2): >= 0.25x.
//
// Two ways of using DialbackKeys are measured, because they differ and both happen:
//  - one at a time: `await keys.verify()` per key, what drive() does for a single pending key;
//  - in bulk: `keys.verifyMany()` over batches of 256 keys, a stream with many pending db:result /
//    db:verify (Limits.maxPendingPerStream defaults to 1000), every HMAC started before any awaited.
// createHmac is synchronous, so it has no such distinction; it runs one key after another.

import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { DialbackKeys } from "../src/dialback/keys.js";
import { asDomain, asStreamId } from "../src/types.js";

const N = 20000;
const BATCH = 256;
const ROUNDS = 5;

export default async function bench(): Promise<void> {
  const secret = "s3cr3tf0rd14lb4ck";
  const keys = new DialbackKeys(secret);
  const inputs = Array.from({ length: N }, (_, i) => ({
    receiving: asDomain("xmpp.example.com"),
    originating: asDomain(`peer${i % 100}.example.org`),
    streamId: asStreamId(`stream${i}`),
  }));
  const expected = await Promise.all(inputs.map((i) => keys.generate(i)));
  const checks = inputs.map((input, i) => ({ input, key: expected[i]! }));

  const hmacKey = createHash("sha256").update(secret).digest("hex");
  const node = async () => {
    let ok = 0;
    for (let i = 0; i < N; i++) {
      const inp = inputs[i]!;
      const k = createHmac("sha256", hmacKey).update(`${inp.receiving} ${inp.originating} ${inp.streamId}`).digest("hex");
      if (timingSafeEqual(Buffer.from(k), Buffer.from(expected[i]!))) ok++;
    }
    return ok;
  };
  const oneByOne = async () => {
    let ok = 0;
    for (let i = 0; i < N; i++) if (await keys.verify(inputs[i]!, expected[i]!)) ok++;
    return ok;
  };
  const bulk = async () => {
    let ok = 0;
    for (let b = 0; b < N; b += BATCH) for (const v of await keys.verifyMany(checks.slice(b, b + BATCH))) if (v) ok++;
    return ok;
  };

  // The floor for any WebCrypto implementation: bare crypto.subtle.sign calls on the same texts,
  // one at a time and in batches, without key text building, hex or comparison.
  const hmac = await crypto.subtle.importKey("raw", new TextEncoder().encode(hmacKey), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const texts = inputs.map((inp) => new TextEncoder().encode(`${inp.receiving} ${inp.originating} ${inp.streamId}`));
  const rawOne = async () => {
    for (let i = 0; i < N; i++) await crypto.subtle.sign("HMAC", hmac, texts[i]!);
    return N;
  };
  const rawBulk = async () => {
    for (let b = 0; b < N; b += BATCH) await Promise.all(texts.slice(b, b + BATCH).map((t) => crypto.subtle.sign("HMAC", hmac, t)));
    return N;
  };

  // Interleaved best-of rounds: the least disturbed figure for each on a shared machine.
  const contenders = [node, oneByOne, bulk, rawOne, rawBulk];
  const best = contenders.map(() => Infinity);
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < contenders.length; k++) {
      const i = (r + k) % contenders.length;
      const t = performance.now();
      if ((await contenders[i]!()) !== N) throw new Error("bench: verification disagreed");
      best[i] = Math.min(best[i]!, (performance.now() - t) / 1000);
    }
  }
  const [nodeRate, oneRate, bulkRate, rawOneRate, rawBulkRate] = best.map((s) => N / s) as number[] as [
    number, number, number, number, number,
  ];
  const row = (label: string, rate: number) =>
    console.log(`${label.padEnd(34)} ${rate.toFixed(0).padStart(8)}/s  ratio ${(rate / nodeRate).toFixed(2)}x`);
  row("createHmac (baseline)", nodeRate);
  row("DialbackKeys.verify, one at a time", oneRate);
  row(`DialbackKeys.verifyMany, ${BATCH} at once`, bulkRate);
  row("bare subtle.sign, one at a time", rawOneRate);
  row(`bare subtle.sign, ${BATCH} at once`, rawBulkRate);
  console.log("target: >= 0.25x (the bare subtle.sign rows bound what any WebCrypto code can reach here)");
}
