// The workerd tiers' Wrangler configuration: the project's wrangler.toml, copied into a folder of its
// own. Wrangler (through @cloudflare/vitest-plugin) reads `.dev.vars` beside the configuration file, so
// pointing the tests at the project's own file handed them the developer's local settings (issue 13:
// with DELIVERY_WEBHOOK_URL set there, the delivery-queue tests delivered to a webhook instead of the
// local app). The copy is made anew at every run, so it cannot drift from wrangler.toml; only `main`
// is rewritten, to the absolute path of the entry module.

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Writes the copy for `tier` and returns its path (for `wrangler.configPath`). */
export function testWranglerConfig(tier: string): string {
  const source = readFileSync(resolve(root, "wrangler.toml"), "utf8");
  let rewritten = false;
  const text = source.replace(/^main\s*=\s*"([^"]+)"/m, (_, main: string) => {
    rewritten = true;
    return `main = ${JSON.stringify(resolve(root, main))}`;
  });
  if (!rewritten) throw new Error("wrangler.toml has no main = \"...\" line to point the test configuration at");
  const dir = resolve(root, ".wrangler", "test-config", tier);
  mkdirSync(dir, { recursive: true });
  const path = resolve(dir, "wrangler.toml");
  writeFileSync(path, text);
  return path;
}
