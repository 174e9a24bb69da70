// The gateway's configuration (gateway/config.ts): defaults, and a bad value names its variable.

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { GatewayConfigError, loadGatewayConfig } from "../../gateway/config.js";

const dir = mkdtempSync(join(tmpdir(), "gateway-config-"));
writeFileSync(join(dir, "cert.pem"), "CERT");
writeFileSync(join(dir, "key.pem"), "KEY");
const base = {
  GATEWAY_TOKEN: "a-token-of-sixteen-chars",
  GATEWAY_CERT: join(dir, "cert.pem"),
  GATEWAY_KEY: join(dir, "key.pem"),
  EDGE_DOMAINS: "Example.ORG., chat.example.org",
};

function error(env: Record<string, string>): GatewayConfigError {
  try {
    loadGatewayConfig({ ...base, ...env });
  } catch (e) {
    if (e instanceof GatewayConfigError) return e;
    throw e;
  }
  throw new Error("expected a GatewayConfigError");
}

describe("gateway configuration", () => {
  it("defaults to loopback 5269/5270, required STARTTLS, the local edge, and EDGE_DOMAINS normalized", () => {
    const c = loadGatewayConfig(base);
    expect(c).toMatchObject({
      host: "127.0.0.1", starttlsPort: 5269, directTlsPort: 5270, requireTls: true, requestClientCert: true,
      edgeUrl: "ws://127.0.0.1:8787/xmpp-s2s", domains: ["example.org", "chat.example.org"], cert: "CERT", key: "KEY",
      maxConnectionsPerIp: 4096, maxUnauthenticatedPerIp: 256, maxWaitingPerIp: 256, handshakeTimeoutMs: 30_000, ca: undefined,
    });
  });

  it("offers TLS by default; GATEWAY_OFFER_TLS=false with GATEWAY_REQUIRE_TLS=false offers none", () => {
    expect(loadGatewayConfig(base).offerTls).toBe(true);
    expect(loadGatewayConfig({ ...base, GATEWAY_REQUIRE_TLS: "false", GATEWAY_OFFER_TLS: "false" })).toMatchObject({ requireTls: false, offerTls: false });
  });

  it("multiplexes by default (GATEWAY_MUX on, 256 channels a link); off keeps one WebSocket per connection", () => {
    expect(loadGatewayConfig(base)).toMatchObject({ mux: true, muxStreams: 256 });
    expect(loadGatewayConfig({ ...base, GATEWAY_MUX: "off", GATEWAY_MUX_STREAMS: "2" })).toMatchObject({ mux: false, muxStreams: 2 });
  });

  it("turns a port off with 'off'", () => {
    expect(loadGatewayConfig({ ...base, GATEWAY_DIRECT_TLS_PORT: "off" }).directTlsPort).toBeNull();
  });

  it.each([
    [{ GATEWAY_TOKEN: "short" }, "GATEWAY_TOKEN"],
    [{ GATEWAY_STARTTLS_PORT: "70000" }, "GATEWAY_STARTTLS_PORT"],
    [{ GATEWAY_EDGE_URL: "http://edge/xmpp-s2s" }, "GATEWAY_EDGE_URL"],
    [{ GATEWAY_EDGE_URL: "not a url" }, "GATEWAY_EDGE_URL"],
    [{ GATEWAY_REQUIRE_TLS: "maybe" }, "GATEWAY_REQUIRE_TLS"],
    [{ GATEWAY_OFFER_TLS: "false" }, "GATEWAY_OFFER_TLS"],
    [{ GATEWAY_CERT: join(dir, "missing.pem") }, "GATEWAY_CERT"],
    [{ GATEWAY_DOMAINS: "bad domain" }, "GATEWAY_DOMAINS"],
    [{ GATEWAY_IDLE_TIMEOUT_MS: "1.5" }, "GATEWAY_IDLE_TIMEOUT_MS"],
    [{ GATEWAY_MUX: "maybe" }, "GATEWAY_MUX"],
    [{ GATEWAY_MUX_STREAMS: "0" }, "GATEWAY_MUX_STREAMS"],
    [{ GATEWAY_MUX_STREAMS: "100001" }, "GATEWAY_MUX_STREAMS"],
  ])("refuses %o, naming %s", (env, variable) => {
    const e = error(env as Record<string, string>);
    expect(e.variable).toBe(variable);
    expect(e.message).toMatch(new RegExp(`^${variable}: `));
  });

  it("requires hosted domains", () => {
    const { EDGE_DOMAINS: _, ...noDomains } = base;
    expect(() => loadGatewayConfig(noDomains)).toThrow(/GATEWAY_DOMAINS/);
  });
});
