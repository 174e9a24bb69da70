// Webhook signatures. Header (documented in README, "Delivery"):
//
//   X-Dialback-Edge-Signature: t=<unix seconds>,v1=<lowercase hex HMAC-SHA256(secret, "<t>.<body>")>
//
// The timestamp is inside the MAC so a captured request cannot be replayed later with a new time;
// receivers should refuse a `t` more than a few minutes old and compare in constant time.

import { toHex } from "../types.js";

export const SIGNATURE_HEADER = "X-Dialback-Edge-Signature";

const enc = new TextEncoder();

async function mac(secret: string, text: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", enc.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return toHex(new Uint8Array(await crypto.subtle.sign("HMAC", key, enc.encode(text))));
}

/** The header value for `body` sent at `nowMs`. */
export async function signWebhook(secret: string, body: string, nowMs: number): Promise<string> {
  const t = Math.floor(nowMs / 1000);
  return `t=${t},v1=${await mac(secret, `${t}.${body}`)}`;
}

/** What a receiver does (exported for the operator's reference and our tests). */
export async function verifyWebhook(
  secret: string,
  body: string,
  header: string,
  nowMs: number,
  toleranceS = 300,
): Promise<boolean> {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (!m) return false;
  const t = Number(m[1]);
  if (Math.abs(nowMs / 1000 - t) > toleranceS) return false;
  const expected = await mac(secret, `${t}.${body}`);
  let diff = 0;
  for (let i = 0; i < expected.length; i++) diff |= expected.charCodeAt(i) ^ m[2]!.charCodeAt(i);
  return diff === 0;
}
