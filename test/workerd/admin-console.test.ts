// The admin console's files at /admin/ (issue 14): served from the Worker itself, every answer with
// the strict CSP (no inline script, no framing), and the page holds no token and no inline script.

import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";

describe("GET /admin/", () => {
  it("serves the console page with a strict CSP and no inline script", async () => {
    const res = await SELF.fetch("https://edge.test/admin/");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).not.toContain("unsafe-eval");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    const html = await res.text();
    // Every <script> has a src on this origin; none carries code inline.
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attrs, body] of scripts) {
      expect(attrs).toMatch(/\bsrc="[a-z]+\.console\.js"/);
      expect((body ?? "").trim()).toBe("");
    }
    expect(html).not.toMatch(/\son[a-z]+=/i);
    expect(html).not.toContain("test-admin-token");
  });

  it("redirects /admin to /admin/ and serves each module with its type and the CSP", async () => {
    const r = await SELF.fetch("https://edge.test/admin", { redirect: "manual" });
    expect(r.status).toBe(301);
    expect(new URL(r.headers.get("location")!, "https://edge.test").pathname).toBe("/admin/");
    const js = await SELF.fetch("https://edge.test/admin/main.console.js");
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toMatch(/^text\/javascript/);
    expect(js.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(await js.text()).toContain("from \"./api.console.js\"");
    const css = await SELF.fetch("https://edge.test/admin/admin.console.css");
    expect(css.headers.get("content-type")).toMatch(/^text\/css/);
    expect((await SELF.fetch("https://edge.test/admin/nothing.console.js")).status).toBe(404);
  });

  it("keeps the token in sessionStorage and the Authorization header only, never in a URL", async () => {
    const api = await (await SELF.fetch("https://edge.test/admin/api.console.js")).text();
    expect(api).toContain("sessionStorage");
    expect(api).not.toContain("localStorage");
    expect(api).toMatch(/authorization = `Bearer \$\{token\}`/);
    for (const name of ["main", "overview", "peers", "policy", "audit", "selfcheck", "dom"]) {
      const src = await (await SELF.fetch(`https://edge.test/admin/${name}.console.js`)).text();
      // Peer-controlled strings go in as text: no HTML parsing sinks anywhere in the console.
      expect(src).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/);
      expect(src).not.toMatch(/token=|[?&]token/);
    }
  });
});
