// `npm start` (scripts/dev.mjs) prints the tokens the edge actually runs with (issue 10.12): a token
// set in the process environment overrides .dev.vars, so that one is printed, not the file's.
import { describe, expect, it } from "vitest";
import { mergeVars, tokenLines } from "../../scripts/dev.mjs";

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
