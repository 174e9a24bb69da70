// worker-configuration.d.ts is what `npm run types` (`wrangler types`) generates from wrangler.toml:
// the Env bindings every Durable Object and route is typed against. A binding added to wrangler.toml
// without regenerating would leave the code typed against bindings the Worker does not have. This
// regenerates into a scratch file beside it (same directory, so the same relative import paths) and
// compares everything below the header line, which names the output path.
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };

const body = (text: string) => text.split("\n").slice(2).join("\n").trim();

describe("generated Worker types (npm run types)", () => {
  it("worker-configuration.d.ts is what `wrangler types` makes of wrangler.toml today", () => {
    const script = pkg.scripts.types!;
    expect(script).toMatch(/^wrangler types /);
    const scratch = `.worker-configuration.check-${process.pid}.d.ts`;
    try {
      const args = [script.split(/\s+/)[1]!, scratch, ...script.split(/\s+/).slice(2)]; // `types <path> --flags`: --env-file takes every word after it
      execFileSync(join(ROOT, "node_modules/.bin/wrangler"), args, {
        cwd: ROOT,
        stdio: "pipe",
        env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_INCLUDE_PROCESS_ENV: "false" },
        timeout: 120_000,
      });
      const fresh = readFileSync(join(ROOT, scratch), "utf8");
      const committed = readFileSync(join(ROOT, "worker-configuration.d.ts"), "utf8");
      expect(fresh).toContain("STREAM_SESSION: DurableObjectNamespace");
      expect(body(committed), "worker-configuration.d.ts is stale: run `npm run types` and commit it").toBe(body(fresh));
    } finally {
      rmSync(join(ROOT, scratch), { force: true });
    }
  });
});
