// Key verification rate (WebCrypto, our DialbackKeys) against node:crypto createHmac doing the same
// work: SHA-256 of the secret once, then one HMAC-SHA256 per key and a comparison.
// Target (issue #2): >= 0.25x.

import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { DialbackKeys } from "../src/dialback/keys.js";
import { asDomain, asStreamId } from "../src/types.js";

const N = 20000;

export default async function bench(): Promise<void> {
  const secret = "s3cr3tf0rd14lb4ck";
  const keys = new DialbackKeys(secret);
  const inputs = Array.from({ length: N }, (_, i) => ({
    receiving: asDomain("xmpp.example.com"),
    originating: asDomain(`peer${i % 100}.example.org`),
    streamId: asStreamId(`stream${i}`),
  }));
  const expected = await Promise.all(inputs.map((i) => keys.generate(i)));

  const hmacKey = createHash("sha256").update(secret).digest("hex");
  let t = performance.now();
  let okNode = 0;
  for (let i = 0; i < N; i++) {
    const inp = inputs[i]!;
    const k = createHmac("sha256", hmacKey).update(`${inp.receiving} ${inp.originating} ${inp.streamId}`).digest("hex");
    if (timingSafeEqual(Buffer.from(k), Buffer.from(expected[i]!))) okNode++;
  }
  const nodeRate = N / ((performance.now() - t) / 1000);

  t = performance.now();
  let okOurs = 0;
  for (let i = 0; i < N; i++) if (await keys.verify(inputs[i]!, expected[i]!)) okOurs++;
  const ourRate = N / ((performance.now() - t) / 1000);
  if (okNode !== N || okOurs !== N) throw new Error("bench: verification disagreed");

  console.log(`key verification: ${ourRate.toFixed(0)}/s vs createHmac ${nodeRate.toFixed(0)}/s`);
  console.log(`ratio: ${(ourRate / nodeRate).toFixed(2)}x (target >= 0.25x)`);
}
