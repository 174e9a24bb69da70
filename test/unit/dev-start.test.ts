// `npm start` (scripts/dev.mjs) prints the tokens the edge actually runs with (issue 10.12): a token
// set in the process environment overrides .dev.vars, so that one is printed, not the file's.
import { describe, expect, it } from "vitest";
import { mergeVars, startLines, tokenLines } from "../../scripts/dev.mjs";

const file = { EDGE_DOMAINS: "localhost", ADMIN_TOKEN: "admin-from-dev-vars-0123456789", APP_TOKEN: "app-from-dev-vars-0123456789" };

describe("npm start: the tokens in force", () => {
  it("prints the environment's admin and app tokens when they override .dev.vars, never the file's", () => {
    const env = { ADMIN_TOKEN: "admin-from-env-0123456789abc", APP_TOKEN: "app-from-env-0123456789abcd" };
    const out = tokenLines(file, env).join("\n");
    expect(out).toContain("admin-from-env-0123456789abc (from the environment)");
    expect(out).toContain("app-from-env-0123456789abcd (from the environment)");
    expect(out).not.toContain("from-dev-vars");
    expect(mergeVars(file, env)).toMatchObject(env);
  });

  it("prints the .dev.vars tokens when the environment sets none, and says so", () => {
    const out = tokenLines(file, {}).join("\n");
    expect(out).toContain("admin-from-dev-vars-0123456789 (from .dev.vars)");
    expect(out).toContain("app-from-dev-vars-0123456789 (from .dev.vars)");
  });

  it("an override of one token leaves the other from .dev.vars", () => {
    const lines = tokenLines(file, { APP_TOKEN: "app-from-env-0123456789abcd" });
    expect(lines[0]).toContain("admin-from-dev-vars-0123456789");
    expect(lines[1]).toContain("app-from-env-0123456789abcd");
  });
});

describe("npm start: where to go next", () => {
  it("names the edge, console, admin and app URLs on the chosen port, and the next step", () => {
    const out = startLines("41234", true, {}).join("\n");
    expect(out).toContain("ws://127.0.0.1:41234/xmpp-s2s");
    expect(out).toContain("http://127.0.0.1:41234/admin/");
    expect(out).toContain("http://127.0.0.1:41234/admin/v1/openapi.json");
    expect(out).toContain("http://127.0.0.1:41234/api/v1/");
    expect(out).toContain("127.0.0.1:5269 (STARTTLS)");
    expect(out).toContain("127.0.0.1:5270 (direct TLS, XEP-0368)");
    expect(out).toContain("npm run demo");
    expect(out).toContain("/admin/v1/check");
  });

  it("says whether wrangler's DevTools inspector runs (EDGE_DEVTOOLS, off by default) and what it costs", () => {
    expect(startLines("8787", true, {}).join("\n")).toMatch(/^DevTools: +off \(EDGE_DEVTOOLS=on /m);
    expect(startLines("8787", true, {}, true).join("\n")).toMatch(/^DevTools: +on \(EDGE_DEVTOOLS=on\).*keeps every log line in memory/m);
  });

  it("reports the gateway's ports as configured, or that it is off", () => {
    expect(startLines("8787", true, { GATEWAY_STARTTLS_PORT: "15269", GATEWAY_DIRECT_TLS_PORT: "off" }).join("\n")).toMatch(/127\.0\.0\.1:15269 \(STARTTLS\)$/m);
    expect(startLines("8787", false, {}).join("\n")).toContain("off (GATEWAY=off)");
  });
});
