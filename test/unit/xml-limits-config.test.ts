// MAX_ATTRIBUTES and MAX_NAMESPACE_DECLARATIONS (issue 10.2) from the environment to the readers
// that face peers: the edge's configuration and its WebSocket codec (through readerLimits), and the
// gateway's configuration and its TCP reader.

import { afterEach, describe, expect, it } from "vitest";
import { FrameCodec } from "../../durable-objects/lib/codec.js";
import { configPolicy, readerLimits } from "../../durable-objects/lib/policy-view.js";
import { GatewayConfigError, loadGatewayConfig } from "../../gateway/config.js";
import { ConfigError, loadConfig } from "../../src/config.js";
import { header, Peer, startFixture, type Fixture } from "./gateway-fixtures.js";

const base = { EDGE_DOMAINS: "edge.test", DIALBACK_SECRET: "0123456789abcdef0123" };
const OPEN = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing-server' from='peer.test' to='edge.test' version='1.0'/>";
const attrs = (n: number) => Array.from({ length: n }, (_, i) => ` a${i}='v'`).join("");
const decls = (n: number) => Array.from({ length: n }, (_, i) => ` xmlns:p${i}='urn:p${i}'`).join("");

async function configError(raw: Record<string, string>): Promise<ConfigError> {
  try {
    await loadConfig({ ...base, ...raw });
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("expected a ConfigError");
}

describe("edge configuration", () => {
  it("defaults to 128 attributes and 32 namespace declarations per element", async () => {
    const c = await loadConfig(base);
    expect(c.limits).toMatchObject({ maxAttributes: 128, maxNamespaceDeclarations: 32 });
  });

  it("names the variable of a bad value", async () => {
    expect((await configError({ MAX_ATTRIBUTES: "many" })).message).toBe("MAX_ATTRIBUTES: must be an integer from 16 to 65536, got 'many'");
    // Below what a stream header needs (8 attributes, 3 declarations).
    expect((await configError({ MAX_ATTRIBUTES: "8" })).variable).toBe("MAX_ATTRIBUTES");
    expect((await configError({ MAX_NAMESPACE_DECLARATIONS: "3" })).variable).toBe("MAX_NAMESPACE_DECLARATIONS");
    expect((await configError({ MAX_NAMESPACE_DECLARATIONS: "1.5" })).variable).toBe("MAX_NAMESPACE_DECLARATIONS");
  });

  it("reaches the WebSocket reader of a stream session (readerLimits -> FrameCodec)", async () => {
    const config = await loadConfig({ ...base, MAX_ATTRIBUTES: "20", MAX_NAMESPACE_DECLARATIONS: "5" });
    const codec = () => {
      const c = new FrameCodec(readerLimits(config, configPolicy(config)));
      expect(c.decode(OPEN)[0]!.type).toBe("open");
      return c;
    };
    const last = (c: FrameCodec, frame: string) => {
      const e = c.decode(frame).at(-1)!;
      return e.type === "error" ? e.error.condition : e.type;
    };
    expect(last(codec(), `<message${attrs(20)}/>`)).toBe("element");
    expect(last(codec(), `<message${attrs(21)}/>`)).toBe("policy-violation");
    expect(last(codec(), `<message${decls(5)}/>`)).toBe("element");
    expect(last(codec(), `<message${decls(6)}/>`)).toBe("policy-violation");
  });
});

describe("gateway configuration", () => {
  let fx: Fixture | undefined;
  afterEach(async () => {
    await fx?.stop();
    fx = undefined;
  });

  const gatewayEnv = { GATEWAY_TOKEN: "a-token-of-sixteen-chars", GATEWAY_CERT: "/dev/null", GATEWAY_KEY: "/dev/null", EDGE_DOMAINS: "edge.test" };

  it("reads the same variables, with the same defaults and bounds", () => {
    expect(loadGatewayConfig(gatewayEnv)).toMatchObject({ maxAttributes: 128, maxNamespaceDeclarations: 32 });
    expect(loadGatewayConfig({ ...gatewayEnv, MAX_ATTRIBUTES: "300", MAX_NAMESPACE_DECLARATIONS: "40" })).toMatchObject({
      maxAttributes: 300,
      maxNamespaceDeclarations: 40,
    });
    for (const [variable, value] of [["MAX_ATTRIBUTES", "15"], ["MAX_NAMESPACE_DECLARATIONS", "x"]] as const) {
      try {
        loadGatewayConfig({ ...gatewayEnv, [variable]: value });
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(GatewayConfigError);
        expect((e as GatewayConfigError).variable).toBe(variable);
      }
    }
  });

  it("refuses a peer's stream header with one attribute too many with policy-violation", async () => {
    fx = await startFixture({ MAX_ATTRIBUTES: "16" });
    // header() has 6 attributes.
    const ok = await Peer.tcp(fx.gateway.ports.starttls!);
    ok.write(header().slice(0, -1) + `${attrs(10)}>`);
    await ok.wait(/<\/stream:features>/);
    const over = await Peer.tcp(fx.gateway.ports.starttls!);
    over.write(header().slice(0, -1) + `${attrs(11)}>`);
    await over.wait(/<stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
  });
});
