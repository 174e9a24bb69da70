// Delivery to the operator's webhook from inside workerd (real fetch to a loopback receiver): signed
// POST of the stanza, retries, and after the last failure the service-unavailable bounce.
import { env } from "cloudflare:test";
import { parse, type Element } from "ltx";
import { describe, expect, inject, it } from "vitest";
import { deliverToApp } from "../../durable-objects/lib/deliver.js";
import { toAppStanza } from "../../src/delivery/app-stanza.js";
import { verifyWebhook } from "../../src/delivery/signature.js";
import { harness } from "../harness/bridge.js";

const hookEnv = () => ({
  ...env,
  DELIVERY_WEBHOOK_URL: `http://127.0.0.1:${inject("harnessPorts").control}/hook`,
  DELIVERY_WEBHOOK_SECRET: "webhook-secret-0123456789",
});
const stanza = () => toAppStanza(parse("<message from='a@peer.test' to='b@edge.test' id='wh1'><body>to the webhook</body></message>") as Element);
type HookState = { status: number; received: { body: string; signature?: string }[] };

describe("webhook delivery (DELIVERY_WEBHOOK_URL)", () => {
  it("POSTs the stanza with a signature the operator can verify", async () => {
    await harness("POST", "/hook-state", { status: 204 });
    expect(await deliverToApp(hookEnv(), stanza())).toEqual([]);
    const { received } = await harness<HookState>("GET", "/hook-state");
    expect(received).toHaveLength(1);
    expect(received[0]!.body).toContain("to the webhook");
    expect(await verifyWebhook("webhook-secret-0123456789", received[0]!.body, received[0]!.signature!, Date.now())).toBe(true);
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
