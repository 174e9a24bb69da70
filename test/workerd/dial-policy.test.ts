// Issue 11.6: a new outbound connection does not wait for the policy read (a ControlPlane round trip)
// when nothing in the dial depends on it: the policy only drops XEP-0368 direct TLS targets (XEP-0238
// type 1) and tells the gateway egress what certificates to accept. The stream's engine still starts
// with the policy (lib/outbound.ts awaits it before the first byte is read).
import { env } from "cloudflare:test";
import { describe, expect, inject, it } from "vitest";
import { edgeConfig } from "../../durable-objects/lib/config.js";
import { dial, type DialPolicy } from "../../durable-objects/lib/dial.js";
import { MemoryStore } from "../../durable-objects/lib/store.js";
import { asDomain } from "../../src/types.js";

describe("dial and the policy read", () => {
  it("connects to a plaintext/STARTTLS target while the policy read is still pending", async () => {
    const config = await edgeConfig(env);
    let asked = false;
    const never = () => {
      asked = true;
      return new Promise<DialPolicy>(() => {});
    };
    const target = { host: "127.0.0.1", port: inject("harnessPorts").s2s, directTls: false, source: "static" as const };
    const r = await dial(env, new MemoryStore(), config, asDomain("peer.test"), { targets: [target], policy: never, from: asDomain("edge.test"), via: "connect" });
    expect(r.ok).toBe(true);
    expect(asked).toBe(false);
    if (r.ok) r.link.close();
  });

  it("waits for it when a direct TLS target may have to be dropped (XEP-0238 type 1)", async () => {
    const config = await edgeConfig(env);
    const plaintextOnly = async (): Promise<DialPolicy> => ({ plaintextOnly: true, acceptUntrusted: false });
    const target = { host: "127.0.0.1", port: inject("harnessPorts").s2s, directTls: true, source: "static" as const };
    const r = await dial(env, new MemoryStore(), config, asDomain("peer.test"), { targets: [target], policy: plaintextOnly, from: asDomain("edge.test"), via: "connect" });
    expect(r).toMatchObject({ ok: false, condition: "remote-server-not-found" });
  });
});
