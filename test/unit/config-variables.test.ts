// Issue 13: every variable goes through one schema (src/config.ts), and a bad value names its
// variable instead of falling back or passing as something else.
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, loadStartOptions } from "../../src/config.js";

const base = { EDGE_DOMAINS: "edge.example", DIALBACK_SECRET: "0123456789abcdef0123" };

async function err(raw: Record<string, unknown>): Promise<ConfigError> {
  try {
    await loadConfig({ ...base, ...raw });
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(raw)}`);
}

describe("S2S_STATIC_ROUTES: strict domains, hosts and ports", () => {
  it("refuses the variable's own name pasted into its value (was domain s2s_static_routes, host peer.test=127.0.0.1)", async () => {
    const e = await err({ S2S_STATIC_ROUTES: "S2S_STATIC_ROUTES=peer.test=127.0.0.1:35269" });
    expect(e.variable).toBe("S2S_STATIC_ROUTES");
    expect(e.message).toMatch(/'S2S_STATIC_ROUTES' is not a domain name/);
  });

  it.each([
    ["under_score.test=127.0.0.1:5269", /'under_score.test' is not a domain name/],
    ["peer.test=peer=x:5269", /'peer=x' is not a host name/],
    ["peer.test=under_score.host:5269", /is not a host name/],
    ["peer.test=127.1:5269", /'127.1' is not a host name/],
    ["peer.test=256.0.0.1:5269", /is not a host name/],
    ["peer.test=::1:5269", /'::1' is not a host name/],
    ["peer.test=[::g]:5269", /is not a host name/],
    ["peer.test=[]:5269", /is not a host name/],
    ["peer.test=:5269", /'' is not a host name/],
    ["peer.test=127.0.0.1:0", /port must be from 1 to 65535, got '0'/],
    ["peer.test=127.0.0.1:65536", /port must be from 1 to 65535/],
    ["peer.test=127.0.0.1:52 69", /port must be from 1 to 65535/],
    ["peer.test=127.0.0.1:", /port must be from 1 to 65535, got ''/],
    ["peer.test=127.0.0.1", /is not domain=host:port/],
    ["=127.0.0.1:5269", /'' is not a domain name/],
    ["peer.test=a.example:1,PEER.test.=b.example:2", /peer.test has a route already/],
  ])("refuses %s, naming the variable", async (value, problem) => {
    const e = await err({ S2S_STATIC_ROUTES: value });
    expect(e.variable).toBe("S2S_STATIC_ROUTES");
    expect(e.message).toMatch(/^S2S_STATIC_ROUTES: /);
    expect(e.message).toMatch(problem);
  });

  it("takes host names, IPv4 and bracketed IPv6 (IDNA domains normalized)", async () => {
    const c = await loadConfig({
      ...base,
      S2S_STATIC_ROUTES: "Peer.Test.=xmpp.peer.test:5269,v4.test=192.0.2.1:1,v6.test=[2001:DB8::1]:65535,bücher.test=localhost:5270",
    });
    expect([...c.staticRoutes]).toEqual([
      ["peer.test", { host: "xmpp.peer.test", port: 5269 }],
      ["v4.test", { host: "192.0.2.1", port: 1 }],
      ["v6.test", { host: "2001:db8::1", port: 65535 }],
      ["xn--bcher-kva.test", { host: "localhost", port: 5270 }],
    ]);
  });

  it("EDGE_DOMAINS refuses '_' too", async () => {
    expect((await err({ EDGE_DOMAINS: "edge.example,_xmpp.example" })).message).toMatch(/^EDGE_DOMAINS: '_xmpp.example' is not a valid domain name/);
  });
});

describe("the other variables through the same schema", () => {
  it("S2S_IDLE_SECONDS: 600 by default, 1-86400, a bad value names the variable (it used to fall back to 600 silently)", async () => {
    expect((await loadConfig(base)).idleSeconds).toBe(600);
    expect((await loadConfig({ ...base, S2S_IDLE_SECONDS: "30" })).idleSeconds).toBe(30);
    for (const v of ["0", "-5", "ten", "1.5", "86401"]) {
      expect((await err({ S2S_IDLE_SECONDS: v })).message).toBe(`S2S_IDLE_SECONDS: must be an integer from 1 to 86400, got '${v}'`);
    }
  });

  it("DOH_URL and DELIVERY_WEBHOOK_URL: https, http only on loopback or in development", async () => {
    for (const name of ["DOH_URL", "DELIVERY_WEBHOOK_URL"]) {
      expect((await err({ [name]: "cloudflare-dns.com/dns-query" })).message).toMatch(new RegExp(`^${name}: '.*' is not an absolute URL`));
      expect((await err({ [name]: "ftp://example.org/x" })).message).toBe(`${name}: must be an https: URL, got 'ftp:'`);
      expect((await err({ [name]: "https://user:pw@example.org/x" })).message).toBe(`${name}: must not carry credentials in the URL`);
      expect((await err({ [name]: "http://resolver.example/dns-query" })).message).toMatch(new RegExp(`^${name}: must be an https: URL \\(http: only`));
      await loadConfig({ ...base, [name]: "https://example.org/x" });
      await loadConfig({ ...base, [name]: "http://127.0.0.1:8053/x" });
      await loadConfig({ ...base, EDGE_ENV: "development", [name]: "http://resolver.example/x" });
    }
  });

  it("DELIVERY_WEBHOOK_SECRET: a key of at least 16 bytes, and only with DELIVERY_WEBHOOK_URL", async () => {
    const url = "https://app.example/hook";
    expect((await err({ DELIVERY_WEBHOOK_URL: url, DELIVERY_WEBHOOK_SECRET: "short" })).message).toBe("DELIVERY_WEBHOOK_SECRET: must give a key of at least 16 bytes, got 5");
    expect((await err({ DELIVERY_WEBHOOK_SECRET: "0123456789abcdef0" })).message).toMatch(/^DELIVERY_WEBHOOK_SECRET: is set but DELIVERY_WEBHOOK_URL is not/);
    await loadConfig({ ...base, DELIVERY_WEBHOOK_URL: url, DELIVERY_WEBHOOK_SECRET: "0123456789abcdef0" });
  });

  it("DELIVERY_WEBHOOK_SECRET in the Standard Webhooks form: whsec_ + base64 of at least 16 bytes", async () => {
    const url = "https://app.example/hook";
    expect((await err({ DELIVERY_WEBHOOK_URL: url, DELIVERY_WEBHOOK_SECRET: "whsec_not*base64*at*all" })).message).toBe("DELIVERY_WEBHOOK_SECRET: the part after whsec_ is not base64");
    expect((await err({ DELIVERY_WEBHOOK_URL: url, DELIVERY_WEBHOOK_SECRET: "whsec_c2hvcnRrZXk=" })).message).toBe("DELIVERY_WEBHOOK_SECRET: must give a key of at least 16 bytes, got 8");
    await loadConfig({ ...base, DELIVERY_WEBHOOK_URL: url, DELIVERY_WEBHOOK_SECRET: `whsec_${btoa("k".repeat(24))}` });
  });

  it("DOH_URL is what the resolver uses, Cloudflare's by default", async () => {
    expect((await loadConfig(base)).dohUrl).toBe("https://cloudflare-dns.com/dns-query");
    expect((await loadConfig({ ...base, DOH_URL: " https://dns.example/dns-query " })).dohUrl).toBe("https://dns.example/dns-query");
  });

  it("EDGE_ENV: production or development only", async () => {
    expect((await err({ EDGE_ENV: "dev" })).message).toBe("EDGE_ENV: must be production or development, got 'dev'");
    expect((await loadConfig({ ...base, EDGE_ENV: "development" })).development).toBe(true);
    expect((await loadConfig(base)).development).toBe(false);
  });

  it("METRICS_TOKEN and DIALBACK_SECRETS_PREVIOUS: at least 16 characters", async () => {
    expect((await err({ METRICS_TOKEN: "short" })).message).toBe("METRICS_TOKEN: must be at least 16 characters");
    expect((await err({ DIALBACK_SECRETS_PREVIOUS: "0123456789abcdef0,old" })).variable).toBe("DIALBACK_SECRETS_PREVIOUS");
    expect((await loadConfig({ ...base, METRICS_TOKEN: "metrics-0123456789abc" })).metricsToken).toBe("metrics-0123456789abc");
  });

  it("APP must be a service binding, not a variable", async () => {
    expect((await err({ APP: "https://app.example" })).message).toMatch(/^APP: must be a service binding/);
    await loadConfig({ ...base, APP: { fetch: async () => new Response() } });
  });

  it("npm start's own EDGE_PORT (1-65535, default 8787), GATEWAY (on/off) and EDGE_DEVTOOLS (off/on)", () => {
    expect(loadStartOptions({})).toEqual({ port: 8787, gateway: true, devtools: false });
    expect(loadStartOptions({ EDGE_PORT: "41001", GATEWAY: "off", EDGE_DEVTOOLS: "on" })).toEqual({ port: 41001, gateway: false, devtools: true });
    expect(() => loadStartOptions({ EDGE_PORT: "80000" })).toThrow("EDGE_PORT: must be an integer from 1 to 65535, got '80000'");
    expect(() => loadStartOptions({ GATEWAY: "no" })).toThrow("GATEWAY: must be on or off, got 'no'");
    expect(() => loadStartOptions({ EDGE_DEVTOOLS: "yes" })).toThrow("EDGE_DEVTOOLS: must be on or off, got 'yes'");
  });
});
