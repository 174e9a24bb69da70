// The deployment guide (README "Deployment") and wrangler.toml, checked the way an operator would
// meet them: wrangler.toml keeps dashboard variables and has Workers Logs on; the guide sets every
// secret the edge reads; the wrangler.toml snippets it shows (routes, Secrets Store) are accepted by
// wrangler's own configuration reader when pasted into wrangler.toml; its DNS lines are SRV records
// for both services pointing at gateway hosts on 5269 / 5270.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { unstable_readConfig } from "wrangler";

const ROOT = resolve(import.meta.dirname, "../..");
const readme = readFileSync(join(ROOT, "README.md"), "utf8");
const guide = readme.slice(readme.indexOf("## Deployment"), readme.indexOf("\n## ", readme.indexOf("## Deployment") + 3));
const toml = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
/** The guide's fenced code blocks in language `lang` ("" for none), read fence by fence. */
function blocks(lang: string): string[] {
  const out: string[] = [];
  let open: { lang: string; lines: string[] } | undefined;
  for (const line of guide.split("\n")) {
    const fence = /^```(\w*)\s*$/.exec(line);
    if (fence && !open) open = { lang: fence[1]!, lines: [] };
    else if (fence && open) {
      if (open.lang === lang) out.push(open.lines.join("\n") + "\n");
      open = undefined;
    } else open?.lines.push(line);
  }
  return out;
}
const dir = mkdtempSync(join(tmpdir(), "deploy-guide-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** wrangler.toml with `main` made absolute (the copy lives elsewhere), edited by `edit`. */
function readWith(edit: (t: string) => string) {
  const path = join(dir, `wrangler-${Math.random().toString(36).slice(2)}.toml`);
  writeFileSync(path, edit(toml.replace(/^main\s*=\s*"([^"]+)"/m, (_, m: string) => `main = ${JSON.stringify(join(ROOT, m))}`)));
  return unstable_readConfig({ config: path });
}

describe("deployment guide and wrangler.toml", () => {
  it("the scripts the guide and the first screen name exist: demo, gateway:build, types, deploy", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
    expect(readme.slice(0, readme.indexOf("## Layout"))).toContain("npm run demo");
    expect(pkg.scripts.demo).toBe("node scripts/interop/try-edge.mjs");
    expect(pkg.scripts["gateway:build"]).toBe("node scripts/build-gateway.mjs");
    for (const s of ["npm run deploy", "npm run gateway:build"]) expect(guide).toContain(s);
    expect(pkg.scripts.deploy).toBeDefined();
    expect(pkg.scripts.types).toMatch(/^wrangler types /);
  });

  it("wrangler.toml keeps dashboard variables across deploys and sends logs to Workers Logs", () => {
    const c = readWith((t) => t);
    expect(c.keep_vars).toBe(true);
    expect(c.observability?.enabled).toBe(true);
  });

  it("sets all four secrets with `npx wrangler secret put`", () => {
    for (const name of ["DIALBACK_SECRET", "ADMIN_TOKEN", "APP_TOKEN", "GATEWAY_TOKEN"]) {
      expect(guide).toMatch(new RegExp(`npx wrangler secret put ${name}\\b`));
      // ...and each is a variable the edge reads (README "Configuration" table).
      expect(readme).toContain(`| \`${name}\` |`);
    }
  });

  it("its routes and Secrets Store snippets are valid wrangler configuration", () => {
    const routes = blocks("toml").find((b) => /^routes = \[/m.test(b));
    const store = blocks("toml").find((b) => b.includes("[[secrets_store_secrets]]"));
    expect(routes).toBeDefined();
    expect(store).toBeDefined();
    // Top-level keys go before the first table; array tables can go last.
    const c = readWith((t) => t.replace(/^keep_vars = true$/m, `keep_vars = true\n${routes}`) + `\n${store}`);
    expect(c.routes).toEqual([
      { pattern: "xmpp.example.org", custom_domain: true },
      { pattern: "example.org/.well-known/host-meta*", zone_name: "example.org" },
    ]);
    expect(c.secrets_store_secrets).toEqual([{ binding: "DIALBACK_SECRET", store_id: "<STORE_ID>", secret_name: "dialback-secret" }]);
  });

  it("its zone lines are SRV records for _xmpp-server (5269) and _xmpps-server (5270) on gateway hosts", () => {
    const zone = blocks("").find((b) => b.includes("IN SRV"));
    expect(zone).toBeDefined();
    const srv = zone!
      .split("\n")
      .map((l) => l.replace(/;.*$/, "").trim())
      .filter((l) => /\bSRV\b/.test(l))
      .map((l) => l.split(/\s+/));
    expect(srv.length).toBeGreaterThanOrEqual(2);
    for (const [owner, ttl, cls, type, prio, weight, port, target] of srv) {
      expect(owner).toMatch(/^_xmpps?-server\._tcp\.example\.org\.$/);
      expect([Number(ttl), cls, type, Number(prio), Number(weight)]).toEqual([3600, "IN", "SRV", 0, 5]);
      expect(port).toBe(owner!.startsWith("_xmpps-") ? "5270" : "5269");
      expect(target).toMatch(/^gw\d\.example\.org\.$/);
    }
    expect(new Set(srv.map((r) => r[0]))).toEqual(new Set(["_xmpp-server._tcp.example.org.", "_xmpps-server._tcp.example.org."]));
  });
});
