// Issue 13: `npm run deploy` (scripts/deploy.mjs) runs the Worker's configuration schema over
// wrangler.toml's [vars] and the secrets the Worker has before `wrangler deploy`, so a bad or missing
// setting is refused with its variable named instead of deploying an edge that answers 503.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { deployCheck } from "../../scripts/deploy.mjs";

function toml(body: string): string {
  const dir = mkdtempSync(join(tmpdir(), "ops-deploy-"));
  const path = join(dir, "wrangler.toml");
  writeFileSync(path, `name = "dialback-edge"\nmain = "worker/index.ts"\ncompatibility_date = "2026-11-01"\n${body}`);
  return path;
}

const ALL_SECRETS = ["DIALBACK_SECRET", "ADMIN_TOKEN", "APP_TOKEN", "GATEWAY_TOKEN"];

describe("npm run deploy: the configuration check", () => {
  it("refuses a bad [vars] entry, naming it (the S2S_STATIC_ROUTES pasted twice)", async () => {
    const r = await deployCheck({
      configPath: toml(`[vars]\nEDGE_DOMAINS = "example.org"\nS2S_STATIC_ROUTES = "S2S_STATIC_ROUTES=peer.test=127.0.0.1:35269"\n`),
      listSecrets: async () => ALL_SECRETS,
    });
    expect(r.ok).toBe(false);
    expect(r.variable).toBe("S2S_STATIC_ROUTES");
    expect(r.lines[0]).toMatch(/^npm run deploy: configuration error: S2S_STATIC_ROUTES: /);
    expect(r.lines[1]).toContain("Nothing was deployed");
  }, 60_000);

  it("refuses a deployment without DIALBACK_SECRET and says how to set it", async () => {
    const r = await deployCheck({ configPath: toml(`[vars]\nEDGE_DOMAINS = "example.org"\n`), listSecrets: async () => [] });
    expect(r.ok).toBe(false);
    expect(r.variable).toBe("DIALBACK_SECRET");
    expect(r.lines.join("\n")).toContain("npx wrangler secret put DIALBACK_SECRET");
  }, 60_000);

  it("refuses a missing EDGE_DOMAINS and an APP declared as a variable instead of a service binding", async () => {
    const none = await deployCheck({ configPath: toml(""), listSecrets: async () => ALL_SECRETS });
    expect(none.lines[0]).toBe("npm run deploy: configuration error: EDGE_DOMAINS: is required");
    const app = await deployCheck({
      configPath: toml(`[vars]\nEDGE_DOMAINS = "example.org"\nAPP = "https://app.example"\n`),
      listSecrets: async () => ALL_SECRETS,
    });
    expect(app.variable).toBe("APP");
  }, 60_000);

  it("passes with [vars] and the secrets set, with a Secrets Store binding for DIALBACK_SECRET and an APP service binding", async () => {
    const r = await deployCheck({
      configPath: toml(
        `[vars]\nEDGE_DOMAINS = "example.org"\nS2S_IDLE_SECONDS = "300"\n\n` +
          `[[secrets_store_secrets]]\nbinding = "DIALBACK_SECRET"\nstore_id = "abc"\nsecret_name = "dialback"\n\n` +
          `[[services]]\nbinding = "APP"\nservice = "my-app"\n`,
      ),
      listSecrets: async () => ["ADMIN_TOKEN"],
    });
    expect(r).toMatchObject({ ok: true });
    expect(r.lines[0]).toContain("EDGE_DOMAINS, S2S_IDLE_SECONDS");
  }, 60_000);

  it("the project's own wrangler.toml passes once EDGE_DOMAINS and the secrets are set", async () => {
    const r = await deployCheck({ configPath: join(__dirname, "../../wrangler.toml"), listSecrets: async () => [...ALL_SECRETS, "EDGE_DOMAINS"] });
    expect(r.ok).toBe(true);
  }, 60_000);
});
