// Issue 13: `npm start` (scripts/dev.mjs) refuses a bad setting before it starts wrangler, with an
// error naming the variable, instead of wrangler saying Ready and every request answering 500.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { EDGE_VARS } from "../../scripts/dev.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");

/** Runs `npm start`'s script with `env` added; resolves with its exit status and output. */
function start(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(root, "scripts/dev.mjs")], {
      cwd: root,
      // PATH only from the parent: no EDGE_* or other setting of this shell leaks in.
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      reject(new Error(`npm start did not exit within 50 s (did it start wrangler?):\n${out}`));
    }, 50_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

describe("npm start: fail fast on a bad setting", () => {
  it("exits non-zero naming S2S_STATIC_ROUTES, without starting wrangler or writing .dev.vars", async () => {
    const hadDevVars = existsSync(join(root, ".dev.vars"));
    const { code, out } = await start({ S2S_STATIC_ROUTES: "S2S_STATIC_ROUTES=peer.test=127.0.0.1:35269" });
    expect(code).toBe(1);
    expect(out).toContain("npm start: configuration error: S2S_STATIC_ROUTES: ");
    expect(out).not.toMatch(/Ready on|wrangler dev|⛅️/);
    expect(existsSync(join(root, ".dev.vars"))).toBe(hadDevVars);
  }, 60_000);

  it("exits non-zero naming S2S_IDLE_SECONDS and EDGE_PORT", async () => {
    const idle = await start({ S2S_IDLE_SECONDS: "ten" });
    expect(idle.code).toBe(1);
    expect(idle.out).toContain("S2S_IDLE_SECONDS: must be an integer from 1 to 86400, got 'ten'");
    const port = await start({ EDGE_PORT: "http" });
    expect(port.code).toBe(1);
    expect(port.out).toContain("EDGE_PORT: must be an integer from 1 to 65535, got 'http'");
  }, 120_000);

  it("passes every variable of the schema from the environment to wrangler dev (S2S_IDLE_SECONDS was left out)", () => {
    for (const name of ["S2S_IDLE_SECONDS", "METRICS_TOKEN", "DOH_URL", "DELIVERY_WEBHOOK_URL", "DELIVERY_WEBHOOK_SECRET", "EDGE_ENV", "DIALBACK_SECRET"]) {
      expect(EDGE_VARS).toContain(name);
    }
  });
});
