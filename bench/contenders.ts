// Shared by the benches that race contenders (keys, engine-drive): interleaved best-of rounds, and
// running the contenders inside workerd (Miniflare), the runtime the edge is deployed on. A
// contenders module (bundled with esbuild) exports `prepare(n)` and `run(name) -> count`.
// workerd freezes clocks while code runs, so each contender is timed from outside, around one
// request that does all its work (the request overhead counts against every contender alike).

import { build } from "esbuild";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface WorkerdRunner {
  /** Runs contender `name` once in workerd; resolves to what its `run` returned. */
  run(name: string): Promise<number>;
  dispose(): Promise<void>;
}

/** Bundles `modulePath` (relative to the repo root), starts workerd with it and calls prepare(n). */
export async function startInWorkerd(modulePath: string, n: number): Promise<WorkerdRunner> {
  const root = join(dirname(fileURLToPath(import.meta.url)), "..");
  const entry = `
    import { prepare, run } from "./${modulePath}";
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
    mainFields: ["module", "main"],
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
  await (await mf.dispatchFetch(`http://bench/prepare?n=${n}`)).text();
  return {
    run: async (name) => Number(await (await mf.dispatchFetch(`http://bench/${name}`)).text()),
    dispose: () => mf.dispose(),
  };
}

/**
 * Interleaved best-of `rounds`: the least disturbed time (seconds) for each contender on a shared
 * machine. Each run must return `expected` (what it counted), or the race stops.
 */
export async function race<C extends string>(
  contenders: readonly C[],
  rounds: number,
  expected: number,
  runOne: (c: C) => Promise<number>,
): Promise<Record<C, number>> {
  const best = Object.fromEntries(contenders.map((c) => [c, Infinity])) as Record<C, number>;
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < contenders.length; k++) {
      const c = contenders[(r + k) % contenders.length]!;
      const t = performance.now();
      const got = await runOne(c);
      if (got !== expected) throw new Error(`bench: ${c} counted ${got}, expected ${expected}`);
      best[c] = Math.min(best[c], (performance.now() - t) / 1000);
    }
  }
  return best;
}
