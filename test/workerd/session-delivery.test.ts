// Delivery to the operator's webhook from inside workerd (real fetch to a loopback receiver): signed
// POST of the stanza, retries, and after the last failure the service-unavailable bounce.
import { env } from "cloudflare:test";
import { parse, type Element } from "ltx";
import { describe, expect, inject, it } from "vitest";
import { deliverToApp } from "../../durable-objects/lib/deliver.js";
import { toAppStanza } from "../../src/delivery/app-stanza.js";
import { harness } from "../harness/bridge.js";

const hookEnv = () => ({
  ...env,
  DELIVERY_WEBHOOK_URL: `http://127.0.0.1:${inject("harnessPorts").control}/hook`,
  DELIVERY_WEBHOOK_SECRET: "webhook-secret-0123456789",
});
const stanza = () => toAppStanza(parse("<message from='a@peer.test' to='b@edge.test' id='wh1'><body>to the webhook</body></message>") as Element);
type HookState = { status: number; received: { body: string; headers: Record<string, string | undefined> }[] };

/**
 * A receiver's check, written from the Standard Webhooks specification (standardwebhooks.com) with
 * WebCrypto, independently of src/delivery/signature.ts: HMAC-SHA256 over "id.timestamp.body",
 * base64, in `webhook-signature` as "v1,<sig>".
 */
async function standardWebhooksValid(secret: string, h: Record<string, string | undefined>, body: string): Promise<boolean> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
  if (!h["webhook-id"] || !h["webhook-timestamp"] || Math.abs(Date.now() / 1000 - Number(h["webhook-timestamp"])) > 300) return false;
  for (const entry of (h["webhook-signature"] ?? "").split(" ")) {
    const [v, b64] = entry.split(",");
    if (v !== "v1" || !b64) continue;
    const sig = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    if (await crypto.subtle.verify("HMAC", key, sig, new TextEncoder().encode(`${h["webhook-id"]}.${h["webhook-timestamp"]}.${body}`))) return true;
  }
  return false;
}

describe("webhook delivery (DELIVERY_WEBHOOK_URL)", () => {
  it("POSTs the stanza signed in the Standard Webhooks format (webhook-id, webhook-timestamp, webhook-signature)", async () => {
    await harness("POST", "/hook-state", { status: 204 });
    expect(await deliverToApp(hookEnv(), stanza())).toEqual([]);
    const { received } = await harness<HookState>("GET", "/hook-state");
    expect(received).toHaveLength(1);
    expect(received[0]!.body).toContain("to the webhook");
    expect(received[0]!.headers["webhook-id"]).toMatch(/^msg_/);
    expect(await standardWebhooksValid("webhook-secret-0123456789", received[0]!.headers, received[0]!.body)).toBe(true);
    expect(await standardWebhooksValid("another-secret-0123456789", received[0]!.headers, received[0]!.body)).toBe(false);
  });

  it("retries a failing webhook, then bounces the stanza with service-unavailable", async () => {
    await harness("POST", "/hook-state", { status: 503 });
    const back = await deliverToApp(hookEnv(), stanza());
    expect((await harness<HookState>("GET", "/hook-state")).received).toHaveLength(4);
    expect(back).toHaveLength(1);
    expect(back[0]!.attrs).toMatchObject({ type: "error", id: "wh1", from: "b@edge.test", to: "a@peer.test" });
    expect(back[0]!.toString()).toContain("<service-unavailable");
  });
});
