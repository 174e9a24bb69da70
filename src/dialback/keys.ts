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

export interface KeyCheck {
  input: KeyInput;
  key: string;
}

/** Holds imported HMAC keys for the current and retired secrets. Build once per isolate. */
export class DialbackKeys {
  readonly #ready: Promise<void>;
  // Resolved once: after that, generating or verifying a key awaits nothing but the HMAC itself.
  #current: CryptoKey | undefined;
  #all: CryptoKey[] = [];
  readonly #formulas: readonly KeyFormula[];

  constructor(secret: string, previous: readonly string[] = [], formulas: readonly KeyFormula[] = ["xep0185"]) {
    if (secret.length === 0) throw new Error("dialback secret must not be empty");
    this.#formulas = formulas.length > 0 ? formulas : ["xep0185"];
    const secrets = [secret, ...previous.filter((s) => s.length > 0)];
    this.#ready = Promise.all(secrets.map(hmacKeyFor)).then((keys) => {
      this.#all = keys;
      this.#current = keys[0];
    });
  }

  /** XEP-0185 key for the current secret: lowercase hex HMAC-SHA256. Always the XEP-0185 formula. */
  async generate(input: KeyInput): Promise<string> {
    if (this.#current === undefined) await this.#ready;
    return hex(await sign(this.#current!, keyText(input, "xep0185")));
  }

  /**
   * True when `key` is what any accepted secret and formula gives for `input`. Every candidate is
   * computed and compared in constant time, and none is skipped after a match, so timing tells
   * nothing about which secret or how many bytes matched (CVE-2021-32921). `formulas` overrides the
   * ones given at construction (policy may change them at run time); empty or absent: those.
   */
  async verify(input: KeyInput, key: string, formulas?: readonly KeyFormula[]): Promise<boolean> {
    if (this.#current === undefined) await this.#ready;
    const presented = unhex(key);
    const keys = this.#all;
    const fs = this.#accepted(formulas);
    if (keys.length === 1 && fs.length === 1) {
      // The usual deployment (one secret, XEP-0185 only): one HMAC, no Promise.all.
      return matches(await sign(keys[0]!, keyText(input, fs[0]!)), presented);
    }
    const macs = await Promise.all(fs.flatMap((f) => keys.map((k) => sign(k, keyText(input, f)))));
    let ok = false;
    for (const mac of macs) ok = matches(mac, presented) || ok;
    return ok;
  }

  /**
   * Verifies many keys at once (a stream with many pending db:verify / db:result): every HMAC of
   * every check is started before any is awaited, so WebCrypto can overlap them, and the batch
   * awaits once. Same answers, and the same constant-time comparisons, as verify(); `formulas` as
   * there.
   */
  async verifyMany(checks: readonly KeyCheck[], formulas?: readonly KeyFormula[]): Promise<boolean[]> {
    if (this.#current === undefined) await this.#ready;
    const keys = this.#all;
    formulas = this.#accepted(formulas);
    const per = keys.length * formulas.length;
    const pending: Promise<ArrayBuffer>[] = new Array(checks.length * per);
    let n = 0;
    for (const c of checks) {
      for (const f of formulas) {
        const text = enc.encode(keyText(c.input, f));
        for (const k of keys) pending[n++] = crypto.subtle.sign("HMAC", k, text);
      }
    }
    const macs = await Promise.all(pending);
    const out: boolean[] = new Array(checks.length);
    for (let i = 0; i < checks.length; i++) {
      const presented = unhex(checks[i]!.key);
      let ok = false;
      for (let j = i * per; j < (i + 1) * per; j++) ok = matches(new Uint8Array(macs[j]!), presented) || ok;
      out[i] = ok;
    }
    return out;
  }

  #accepted(formulas: readonly KeyFormula[] | undefined): readonly KeyFormula[] {
    return formulas !== undefined && formulas.length > 0 ? formulas : this.#formulas;
  }
}

async function sign(key: CryptoKey, text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, enc.encode(text)));
}

// Lowercase hex by table: toHex's per-byte toString/padStart shows up when keys are checked in bulk.
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
const UNHEX = new Int16Array(128).fill(-1);
for (let i = 0; i < 16; i++) UNHEX["0123456789abcdef".charCodeAt(i)] = i;

function hex(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]!];
  return out;
}

/**
 * The 32 bytes a presented key stands for, or undefined when it is not 64 lowercase hex digits
 * (XEP-0185 keys are lowercase hex; anything else cannot match). Depends only on the presented key.
 */
function unhex(key: string): Uint8Array | undefined {
  if (key.length !== 64) return undefined;
  const out = new Uint8Array(32);
  let bad = 0;
  for (let i = 0; i < 32; i++) {
    const hi = UNHEX[key.charCodeAt(2 * i) & 0x7f]!;
    const lo = UNHEX[key.charCodeAt(2 * i + 1) & 0x7f]!;
    bad |= (hi | lo) & 0x100 ? 1 : 0;
    bad |= key.charCodeAt(2 * i) > 0x7f || key.charCodeAt(2 * i + 1) > 0x7f ? 1 : 0;
    out[i] = (hi << 4) | (lo & 0xf);
  }
  return bad === 0 ? out : undefined;
}

/** Constant-time comparison of a computed MAC with the presented bytes (time depends on neither). */
function matches(mac: Uint8Array, presented: Uint8Array | undefined): boolean {
  const other = presented ?? mac; // compare against something of the same length either way
  let diff = presented === undefined ? 1 : 0;
  for (let i = 0; i < mac.length; i++) diff |= mac[i]! ^ other[i]!;
  return diff === 0;
}

/** Compares two strings in time that depends only on their lengths. */
export function constantTimeEqual(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) diff |= (i < a.length ? a.charCodeAt(i) : 0) ^ (i < b.length ? b.charCodeAt(i) : 0);
  return diff === 0;
}

/** 256 bits from the CSPRNG, hex: what `npm start` and tests use as a development secret. */
export function generateSecret(): string {
  const bytes = new Uint8Array(32);
  crypto.getRandomValues(bytes);
  return toHex(bytes);
}
