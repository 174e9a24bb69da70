// The key-verification contenders of keys.bench.ts, as one module so the very same code runs under
// Node and, bundled, inside workerd (the runtime the edge is deployed on). node:crypto is available
// in workerd through nodejs_compat, so the createHmac baseline runs in both places too.

import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { DialbackKeys, type KeyCheck } from "../src/dialback/keys.js";
import { asDomain, asStreamId } from "../src/types.js";

export const BATCH = 256;
const SECRET = "s3cr3tf0rd14lb4ck";

export type Contender = "createHmac" | "verify" | "verifyMany" | "subtleSign" | "subtleSignBatch";
export const CONTENDERS: Contender[] = ["createHmac", "verify", "verifyMany", "subtleSign", "subtleSignBatch"];

let keys: DialbackKeys;
let checks: KeyCheck[] = [];
let texts: Uint8Array[] = [];
let hmacHex = "";
let hmac: CryptoKey;

/** Builds n inputs and their expected keys (not timed). */
export async function prepare(n: number): Promise<void> {
  keys = new DialbackKeys(SECRET);
  const inputs = Array.from({ length: n }, (_, i) => ({
    receiving: asDomain("xmpp.example.com"),
    originating: asDomain(`peer${i % 100}.example.org`),
    streamId: asStreamId(`stream${i}`),
  }));
  const expected = await Promise.all(inputs.map((i) => keys.generate(i)));
  checks = inputs.map((input, i) => ({ input, key: expected[i]! }));
  hmacHex = createHash("sha256").update(SECRET).digest("hex");
  const enc = new TextEncoder();
  hmac = await crypto.subtle.importKey("raw", enc.encode(hmacHex), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  texts = inputs.map((i) => enc.encode(`${i.receiving} ${i.originating} ${i.streamId}`));
}

/** Verifies every prepared key with one contender; returns how many were valid (all of them). */
export async function run(which: Contender): Promise<number> {
  let ok = 0;
  switch (which) {
    case "createHmac":
      // SHA-256 of the secret once (hmacHex), then one HMAC and a constant-time compare per key.
      for (const c of checks) {
        const { receiving, originating, streamId } = c.input;
        const k = createHmac("sha256", hmacHex).update(`${receiving} ${originating} ${streamId}`).digest("hex");
        if (timingSafeEqual(Buffer.from(k), Buffer.from(c.key))) ok++;
      }
      return ok;
    case "verify":
      // One at a time, awaiting each: what drive() does for each pending key.
      for (const c of checks) if (await keys.verify(c.input, c.key)) ok++;
      return ok;
    case "verifyMany":
      for (let b = 0; b < checks.length; b += BATCH) for (const v of await keys.verifyMany(checks.slice(b, b + BATCH))) if (v) ok++;
      return ok;
    case "subtleSign":
      // Bare WebCrypto HMACs: the floor for any WebCrypto code (no key text, hex or comparison).
      for (const t of texts) await crypto.subtle.sign("HMAC", hmac, t);
      return texts.length;
    case "subtleSignBatch":
      for (let b = 0; b < texts.length; b += BATCH) await Promise.all(texts.slice(b, b + BATCH).map((t) => crypto.subtle.sign("HMAC", hmac, t)));
      return texts.length;
  }
}
