// EDGE_PUBLIC_URL (issue 10.10), DELIVERY_TIMEOUT_MS and DOH_TIMEOUT_MS (issue 10.5): defaults, and
// a bad value stops the edge with an error naming the variable.
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";

const base = { EDGE_DOMAINS: "example.org", DIALBACK_SECRET: "0123456789abcdef0123" };

async function err(raw: Record<string, unknown>): Promise<ConfigError> {
  try {
    await loadConfig(raw);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("expected a ConfigError");
}

describe("EDGE_PUBLIC_URL", () => {
  it("is unset by default, and an https or wss origin becomes the wss endpoint host-meta advertises", async () => {
    expect((await loadConfig(base)).publicWebSocketUrl).toBeUndefined();
    for (const v of ["https://xmpp.example.org", "https://xmpp.example.org/", "wss://xmpp.example.org/xmpp-s2s", "HTTPS://XMPP.Example.ORG:8443"]) {
      const want = v.includes("8443") ? "wss://xmpp.example.org:8443/xmpp-s2s" : "wss://xmpp.example.org/xmpp-s2s";
      expect((await loadConfig({ ...base, EDGE_PUBLIC_URL: v })).publicWebSocketUrl).toBe(want);
    }
  });

  it("takes http only in development (advertised as ws)", async () => {
    const dev = await loadConfig({ ...base, EDGE_ENV: "development", EDGE_PUBLIC_URL: "http://127.0.0.1:8787" });
    expect(dev.publicWebSocketUrl).toBe("ws://127.0.0.1:8787/xmpp-s2s");
    expect((await err({ ...base, EDGE_PUBLIC_URL: "http://xmpp.example.org" })).message).toMatch(/^EDGE_PUBLIC_URL: must be https: or wss:/);
  });

  it("refuses what is not an origin, naming the variable", async () => {
    for (const v of ["xmpp.example.org", "ftp://xmpp.example.org", "https://xmpp.example.org/other", "https://u:p@xmpp.example.org", "https://xmpp.example.org/?x=1"]) {
      expect((await err({ ...base, EDGE_PUBLIC_URL: v })).variable).toBe("EDGE_PUBLIC_URL");
    }
  });
});

describe("outbound HTTP deadlines", () => {
  it("default to 10 s per delivery attempt and 5 s per DoH query", async () => {
    expect((await loadConfig(base)).timeouts).toEqual({ deliveryMs: 10_000, dohMs: 5_000 });
    expect((await loadConfig({ ...base, DELIVERY_TIMEOUT_MS: "2500", DOH_TIMEOUT_MS: "800" })).timeouts).toEqual({ deliveryMs: 2500, dohMs: 800 });
  });

  it("refuse a value that is not a bounded integer", async () => {
    expect((await err({ ...base, DELIVERY_TIMEOUT_MS: "0" })).message).toMatch(/^DELIVERY_TIMEOUT_MS: must be an integer from 100 to 300000/);
    expect((await err({ ...base, DELIVERY_TIMEOUT_MS: "soon" })).variable).toBe("DELIVERY_TIMEOUT_MS");
    expect((await err({ ...base, DOH_TIMEOUT_MS: "-1" })).variable).toBe("DOH_TIMEOUT_MS");
  });
});
