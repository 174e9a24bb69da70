// Issue 10 defect 6 at the real edge: the gateway now forwards each element exactly as the peer wrote
// it (no re-escaping, no inherited declarations added), so the edge must accept such a frame at exactly
// MAX_STANZA_BYTES (262144 here) with the characters that used to grow, reading it in the scope of
// the stream's <open/>, and deliver it; one byte more is policy-violation.
import { env, SELF } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { harness, uplink, waitJob } from "../harness/bridge.js";
import type { Job } from "../harness/peer.js";
import { appInbox } from "./helpers.js";

const TOKEN = "test-gateway-token-012345678";
const LIMIT = 262_144;
const gateway = {
  "x-edge-gateway-token": TOKEN,
  "x-edge-connection": JSON.stringify({ peer: "192.0.2.7:40000", tls: null, certIdentities: [], port: 5269, framing: "batched" }),
};

beforeEach(async () => {
  await harness("POST", "/reset");
});

async function gatewaySession() {
  const job = await harness<Job>("POST", "/jobs", { kind: "originate", to: "edge.test", stanzas: [] });
  const link = await uplink(job.id, gateway);
  expect((await waitJob(job.id, ["sent", "refused", "closed"])).result).toEqual({ type: "valid" });
  return link;
}

/** A message of exactly `bytes` bytes of UTF-8: '>' in the body, '"' in an attribute, '😀', no xmlns. */
function worst(bytes: number, id: string): string {
  const head = `<message from='a@peer.test' to='b@edge.test' id='${id}'><x xmlns='urn:t' q='${'"'.repeat(1000)}'/><body>😀`;
  const tail = "</body></message>";
  const fill = bytes - Buffer.byteLength(head + tail);
  return head + ">".repeat(fill) + tail;
}

describe("frames with the peer's own bytes (issue 10 defect 6)", () => {
  it("a stanza of exactly MAX_STANZA_BYTES of '>' and '\"' without xmlns is accepted and delivered", async () => {
    expect(env.MAX_STANZA_BYTES ?? String(LIMIT)).toBe(String(LIMIT));
    const link = await gatewaySession();
    const stanza = worst(LIMIT, "fw-exact");
    expect(Buffer.byteLength(stanza)).toBe(LIMIT);
    link.ws.send(stanza);
    const xml = await appInbox((x) => x.includes('id="fw-exact"'));
    expect(xml).toContain("&gt;".repeat(100));
    expect(link.fromEdge.some((f) => /<(stream:)?error[ >]/.test(f))).toBe(false);
    link.ws.close(1000);
  });

  it("one byte more: policy-violation", async () => {
    const link = await gatewaySession();
    link.ws.send(worst(LIMIT + 1, "fw-over"));
    const deadline = Date.now() + 5000;
    while (!link.fromEdge.some((f) => f.includes("policy-violation")) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    expect(link.fromEdge.find((f) => /<(stream:)?error[ >]/.test(f))).toContain("policy-violation");
    await link.closed;
  });
});
