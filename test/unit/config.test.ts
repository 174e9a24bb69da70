import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";

const base = { EDGE_DOMAINS: "Example.ORG., bücher.example", DIALBACK_SECRET: "0123456789abcdef0123" };

async function err(raw: Record<string, unknown>): Promise<ConfigError> {
  try {
    await loadConfig(raw);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("expected a ConfigError");
}

describe("configuration", () => {
  it("normalizes hosted domains: lowercase, IDNA A-labels, no trailing dot", async () => {
    const c = await loadConfig(base);
    expect(c.domains).toEqual(["example.org", "xn--bcher-kva.example"]);
    expect(c.limits).toEqual({ maxStanzaBytes: 262144, maxDepth: 64, maxAttributes: 128, maxNamespaceDeclarations: 32, maxPendingPerStream: 1000, maxFailedPairs: 5, maxBidiRoutesPerDomain: 8, maxUnauthenticatedPerIp: 256, muxMaxStreams: 1024 });
    expect(c.keyFormulas).toEqual(["xep0185"]);
  });

  it("names the variable and the problem", async () => {
    expect((await err({ DIALBACK_SECRET: "0123456789abcdef0123" })).message).toBe("EDGE_DOMAINS: is required");
    expect((await err({ ...base, EDGE_DOMAINS: "ok.example,bad domain" })).message).toMatch(
      /^EDGE_DOMAINS: 'bad domain' is not a valid domain name/,
    );
    expect((await err({ EDGE_DOMAINS: "a.example" })).variable).toBe("DIALBACK_SECRET");
    expect((await err({ ...base, MAX_STANZA_BYTES: "lots" })).message).toMatch(/^MAX_STANZA_BYTES: must be an integer/);
    expect((await err({ ...base, S2S_STATIC_ROUTES: "peer.test=127.0.0.1" })).message).toMatch(
      /^S2S_STATIC_ROUTES: 'peer.test=127.0.0.1' is not domain=host:port/,
    );
    expect((await err({ ...base, DIALBACK_KEY_FORMULAS: "md5" })).variable).toBe("DIALBACK_KEY_FORMULAS");
    expect((await err({ ...base, MAX_FAILED_PAIRS: "-1" })).message).toMatch(/^MAX_FAILED_PAIRS: must be an integer from 0/);
    expect((await loadConfig({ ...base, MAX_FAILED_PAIRS: "0" })).limits.maxFailedPairs).toBe(0);
    expect((await err({ ...base, MUX_MAX_STREAMS: "0" })).message).toMatch(/^MUX_MAX_STREAMS: must be an integer from 1/);
    expect((await loadConfig({ ...base, MUX_MAX_STREAMS: "2" })).limits.muxMaxStreams).toBe(2);
    expect((await err({ ...base, ADMIN_TOKEN: "short" })).message).toBe("ADMIN_TOKEN: must be at least 16 characters");
  });

  it("DELIVERY_COMMIT_WINDOW_MS: 100 ms by default, 0-1000, anything else names the variable", async () => {
    expect((await loadConfig(base)).deliveryCommitWindowMs).toBe(100);
    expect((await loadConfig({ ...base, DELIVERY_COMMIT_WINDOW_MS: "0" })).deliveryCommitWindowMs).toBe(0);
    expect((await err({ ...base, DELIVERY_COMMIT_WINDOW_MS: "1001" })).variable).toBe("DELIVERY_COMMIT_WINDOW_MS");
    expect((await err({ ...base, DELIVERY_COMMIT_WINDOW_MS: "soon" })).message).toMatch(/^DELIVERY_COMMIT_WINDOW_MS: /);
  });

  it("S2S_EGRESS: direct by default; gateway and auto need GATEWAY_EGRESS_URL and GATEWAY_TOKEN; wss only in production (issue 12)", async () => {
    expect((await loadConfig(base)).egress).toEqual({ mode: "direct", url: undefined });
    const token = { GATEWAY_TOKEN: "a-gateway-token-0123" };
    expect((await loadConfig({ ...base, ...token, S2S_EGRESS: "auto", GATEWAY_EGRESS_URL: "wss://gw.example.org/egress" })).egress)
      .toEqual({ mode: "auto", url: "wss://gw.example.org/egress" });
    expect((await err({ ...base, ...token, S2S_EGRESS: "gateway" })).variable).toBe("GATEWAY_EGRESS_URL");
    expect((await err({ ...base, S2S_EGRESS: "gateway", GATEWAY_EGRESS_URL: "wss://gw.example.org/egress" })).variable).toBe("GATEWAY_TOKEN");
    expect((await err({ ...base, S2S_EGRESS: "sometimes" })).message).toMatch(/^S2S_EGRESS: must be direct, gateway or auto/);
    expect((await err({ ...base, ...token, S2S_EGRESS: "gateway", GATEWAY_EGRESS_URL: "https://gw.example.org" })).variable).toBe("GATEWAY_EGRESS_URL");
    expect((await err({ ...base, ...token, S2S_EGRESS: "gateway", GATEWAY_EGRESS_URL: "ws://gw.example.org/egress" })).message).toMatch(/must be wss:/);
  });

  it("parses static routes and previous secrets", async () => {
    const c = await loadConfig({
      ...base,
      S2S_STATIC_ROUTES: "peer.test=127.0.0.1:25269, v6.test=[::1]:5269",
      DIALBACK_SECRETS_PREVIOUS: "old-one-0123456789, old-two-0123456789",
    });
    expect([...c.staticRoutes]).toEqual([
      ["peer.test", { host: "127.0.0.1", port: 25269 }],
      ["v6.test", { host: "::1", port: 5269 }],
    ]);
    expect(c.previousSecrets).toEqual(["old-one-0123456789", "old-two-0123456789"]);
  });

  it("reads a Secrets Store binding", async () => {
    const c = await loadConfig({ ...base, DIALBACK_SECRET: { get: async () => "from-the-store-0123456789" } });
    expect(c.secret).toBe("from-the-store-0123456789");
  });
});
