// Issue 11 item 3: the edge tells the TCP gateway when a stream is authenticated, so the gateway can
// count the connection against its generous per-address budget (src/gateway-contract.ts). Only on a
// connection the gateway token vouched for, and only when the gateway asked for the signal.
import { SELF } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { harness, uplink, waitJob } from "../harness/bridge.js";
import type { Job } from "../harness/peer.js";
import { authenticatedFrame } from "../../src/gateway-contract.js";

const TOKEN = "test-gateway-token-012345678";
const gateway = (signals?: string[]) => ({
  "x-edge-gateway-token": TOKEN,
  "x-edge-connection": JSON.stringify({ peer: "192.0.2.7:40000", tls: null, certIdentities: [], port: 5269, ...(signals ? { signals } : {}) }),
});

beforeEach(async () => {
  await harness("POST", "/reset");
});

/** Dialback through an uplink with `headers`; then we close and collect every frame the edge sent. */
async function framesAfterDialback(headers: Record<string, string>): Promise<string[]> {
  const job = await harness<Job>("POST", "/jobs", { kind: "originate", to: "edge.test", stanzas: [] });
  const link = await uplink(job.id, headers);
  expect((await waitJob(job.id, ["sent", "refused", "closed"])).result).toEqual({ type: "valid" });
  // Everything the edge sent before our close reaches us before its close does.
  link.ws.close(1000);
  await link.closed;
  return link.fromEdge;
}

describe("the authenticated signal to the gateway", () => {
  it("is sent once, after the inbound pair is verified, when the gateway asked for it", async () => {
    const frames = await framesAfterDialback(gateway(["authenticated"]));
    expect(frames.filter((f) => f === authenticatedFrame())).toHaveLength(1);
    const valid = frames.findIndex((f) => /type=['"]valid['"]/.test(f));
    expect(valid).toBeGreaterThan(-1);
  });

  it("is not sent to a gateway that did not ask, nor to a direct WebSocket peer", async () => {
    expect((await framesAfterDialback(gateway())).some((f) => f.includes("dialback-edge:gateway"))).toBe(false);
    expect((await framesAfterDialback({})).some((f) => f.includes("dialback-edge:gateway"))).toBe(false);
  });

  it("cannot be asked for without the gateway token", async () => {
    const res = await SELF.fetch("https://edge.test/xmpp-s2s", {
      headers: { upgrade: "websocket", "sec-websocket-protocol": "xmpp", ...gateway(["authenticated"]), "x-edge-gateway-token": "wrong-token-wrong-token-xx" },
    });
    expect(res.status).toBe(403);
  });
});
