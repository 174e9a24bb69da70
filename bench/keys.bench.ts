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
// Rows: verify one at a time (drive() today), verifyMany in batches (a stream with many pending
// db:result/db:verify), and bare subtle.sign one at a time / batched, for reference.

import { build } from "esbuild";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { BATCH, CONTENDERS, prepare, run, type Contender } from "./keys-contenders.js";

const N = 20000;
const ROUNDS = 5;
const LABELS: Record<Contender, string> = {
  createHmac: "createHmac (baseline)",
  verify: "DialbackKeys.verify, one at a time",
  verifyMany: `DialbackKeys.verifyMany, ${BATCH} at once`,
  subtleSign: "bare subtle.sign, one at a time",
  subtleSignBatch: `bare subtle.sign, ${BATCH} at once`,
};

/** Interleaved best-of rounds: the least disturbed figure for each on a shared machine. */
async function race(runOne: (c: Contender) => Promise<number>): Promise<Record<Contender, number>> {
  const best = Object.fromEntries(CONTENDERS.map((c) => [c, Infinity])) as Record<Contender, number>;
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < CONTENDERS.length; k++) {
      const c = CONTENDERS[(r + k) % CONTENDERS.length]!;
      const t = performance.now();
      if ((await runOne(c)) !== N) throw new Error(`bench: ${c} disagreed`);
      best[c] = Math.min(best[c], (performance.now() - t) / 1000);
    }
  }
  return best;
}

function report(title: string, best: Record<Contender, number>): void {
  console.log(title);
  const base = N / best.createHmac;
  for (const c of CONTENDERS) {
    const rate = N / best[c];
    console.log(`  ${LABELS[c].padEnd(36)} ${rate.toFixed(0).padStart(8)}/s  ratio ${(rate / base).toFixed(2)}x`);
  }
}

async function inWorkerd(): Promise<Record<Contender, number>> {
  const root = join(dirname(fileURLToPath(import.meta.url)), "..");
  const entry = `
    import { prepare, run } from "./bench/keys-contenders.ts";
    export default {
      async fetch(req) {
        const u = new URL(req.url);
        if (u.pathname === "/prepare") { await prepare(Number(u.searchParams.get("n"))); return new Response("ok"); }
        return new Response(String(await run(u.pathname.slice(1))));
      },
    };`;
  const bundle = await build({
    stdin: { contents: entry, resolveDir: root, loader: "ts" },
    bundle: true,
    format: "esm",
    platform: "neutral",
    external: ["node:*"],
    write: false,
  });
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      modules: true,
      script: bundle.outputFiles[0]!.text,
      compatibilityDate: "2026-11-01",
      compatibilityFlags: ["nodejs_compat"],
    } as Parameters<typeof convertV4MiniflareOptions>[0]),
  );
  try {
    await (await mf.dispatchFetch(`http://bench/prepare?n=${N}`)).text();
    return await race(async (c) => Number(await (await mf.dispatchFetch(`http://bench/${c}`)).text()));
  } finally {
    await mf.dispose();
  }
}

export default async function bench(): Promise<void> {
  await prepare(N);
  report(`Node ${process.version} (${N} keys, best of ${ROUNDS}):`, await race(run));
  try {
    report(`workerd via Miniflare (${N} keys per request, best of ${ROUNDS}):`, await inWorkerd());
  } catch (e) {
    console.log(`workerd run not possible here: ${(e as Error).message}`);
  }
  console.log("target: >= 0.25x");
}
