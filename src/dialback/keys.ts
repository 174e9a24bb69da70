// Dialback keys (XEP-0185) and their verification. WebCrypto only, so the same code runs in workerd
// and Node. The secret never leaves this module: callers get keys and verdicts.

import { toHex, type Domain, type StreamId } from "../types.js";

/**
 * Which text a key is computed over. XEP-0185 §3 (Prosody, ejabberd, Tigase): receiving + " " +
 * originating + " " + stream id. MongooseIM swaps the two domains; accepted only when configured.
 */
export type KeyFormula = "xep0185" | "originating-first";

export interface KeyInput {
  /** The Receiving Server's domain: the `to` of the db:result. */
  receiving: Domain;
  /** The Originating Server's domain: the `from` of the db:result. */
  originating: Domain;
  /** The stream id the Receiving Server sent on the stream the db:result arrived on. */
  streamId: StreamId;
}

const enc = new TextEncoder();

function keyText(input: KeyInput, formula: KeyFormula): string {
  // XEP-0185 §3: separating with a space that a domain cannot contain is what keeps
  // ("a b", "c") and ("a", "b c") apart (CVE-2016-0756 was about such boundaries).
  return formula === "xep0185"
    ? `${input.receiving} ${input.originating} ${input.streamId}`
    : `${input.originating} ${input.receiving} ${input.streamId}`;
}

async function hmacKeyFor(secret: string): Promise<CryptoKey> {
  // XEP-0185 §3: the HMAC key is the lowercase hex SHA-256 of the secret, not the secret itself.
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", enc.encode(secret)));
  return crypto.subtle.importKey("raw", enc.encode(toHex(digest)), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
}

/** Holds imported HMAC keys for the current and retired secrets. Build once per isolate. */
export class DialbackKeys {
  readonly #current: Promise<CryptoKey>;
  readonly #previous: Promise<CryptoKey>[];
  readonly #formulas: readonly KeyFormula[];

  constructor(secret: string, previous: readonly string[] = [], formulas: readonly KeyFormula[] = ["xep0185"]) {
    if (secret.length === 0) throw new Error("dialback secret must not be empty");
    this.#current = hmacKeyFor(secret);
    this.#previous = previous.filter((s) => s.length > 0).map(hmacKeyFor);
    this.#formulas = formulas.length > 0 ? formulas : ["xep0185"];
  }

  /** XEP-0185 key for the current secret: lowercase hex HMAC-SHA256. Always the XEP-0185 formula. */
  async generate(input: KeyInput): Promise<string> {
    return sign(await this.#current, keyText(input, "xep0185"));
  }

  /**
   * True when `key` is what any accepted secret and formula gives for `input`. Every candidate is
   * computed and compared in constant time, and the loop does not stop early, so timing tells
   * nothing about which secret or how many bytes matched (CVE-2021-32921).
   */
  async verify(input: KeyInput, key: string): Promise<boolean> {
    let ok = false;
    const candidates = [this.#current, ...this.#previous];
    for (const formula of this.#formulas) {
      const text = keyText(input, formula);
      for (const k of candidates) {
        ok = constantTimeEqual(await sign(await k, text), key) || ok;
      }
    }
    return ok;
  }
}

async function sign(key: CryptoKey, text: string): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.sign("HMAC", key, enc.encode(text))));
}

/** Compares two strings in time that depends only on their lengths. */
export function constantTimeEqual(a: string, b: string): boolean {
  const x = enc.encode(a);
  const y = enc.encode(b);
  let diff = x.length ^ y.length;
  const n = Math.max(x.length, y.length);
  for (let i = 0; i < n; i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** 256 bits from the CSPRNG, hex: what `npm start` and tests use as a development secret. */
export function generateSecret(): string {
  const bytes = new Uint8Array(32);
  crypto.getRandomValues(bytes);
  return toHex(bytes);
}
