// Where verified inbound stanzas go (issue 4, "Routing, delivery"): the operator's application as a
// service binding `APP` (RPC `deliver(xml)`, else fetch) or an HTTP webhook. Both are built from
// injected functions: src/ does no I/O itself.

import { newWebhookId, signWebhook } from "./signature.js";

export type DeliveryOutcome =
  | { ok: true }
  /** `retryable` false: the application refused the stanza (4xx); retrying cannot help. */
  | { ok: false; retryable: boolean; reason: string };

export interface DeliveryTransport {
  /** For logs and problem details: "service binding APP", "webhook https://...". */
  readonly name: string;
  /** `id`: the message id, the same for every attempt at one stanza (the webhook's `webhook-id`). */
  send(xml: string, now: number, id?: string): Promise<DeliveryOutcome>;
}

interface ResponseLike {
  ok: boolean;
  status: number;
}
export type PostFn = (url: string, init: { method: "POST"; headers: Record<string, string>; body: string }) => Promise<ResponseLike>;

function fromStatus(res: ResponseLike, what: string): DeliveryOutcome {
  if (res.ok) return { ok: true };
  // 408 and 429 are "try again later"; other 4xx mean the stanza itself was refused.
  const retryable = res.status >= 500 || res.status === 408 || res.status === 429;
  return { ok: false, retryable, reason: `${what} answered HTTP ${res.status}` };
}

export const DELIVERY_CONTENT_TYPE = "application/xmpp+xml";

export function webhookTransport(url: string, secret: string | undefined, post: PostFn): DeliveryTransport {
  return {
    name: `webhook ${new URL(url).origin}`,
    async send(xml, now, id = newWebhookId()) {
      // Standard Webhooks (signature.ts): the id even unsigned, so receivers can de-duplicate.
      const headers: Record<string, string> = { "content-type": DELIVERY_CONTENT_TYPE, "webhook-id": id };
      if (secret) Object.assign(headers, await signWebhook(secret, id, xml, now));
      try {
        return fromStatus(await post(url, { method: "POST", headers, body: xml }), "webhook");
      } catch (err) {
        return { ok: false, retryable: true, reason: `webhook unreachable: ${(err as Error).message}` };
      }
    },
  };
}

/** A service binding: `deliver(xml)` over RPC when the entrypoint has it, else POST via fetch. */
export interface AppBinding {
  deliver?: (xml: string) => Promise<unknown>;
  fetch(url: string, init: { method: "POST"; headers: Record<string, string>; body: string }): Promise<ResponseLike>;
}

// A service binding stub answers every property with a callable RPC stub, so `typeof deliver` cannot
// tell whether the application implements it; the call fails with this instead (workerd's wording).
const NO_RPC_METHOD = /does not implement|not a function|not found on|no such method/i;

export function serviceBindingTransport(app: AppBinding): DeliveryTransport {
  let rpc = typeof app.deliver === "function";
  return {
    name: "service binding APP",
    async send(xml) {
      try {
        if (rpc) {
          try {
            // RPC: a resolved call is accepted; `false` from the app means "refused".
            const r = await app.deliver!(xml);
            return r === false ? { ok: false, retryable: false, reason: "APP.deliver returned false" } : { ok: true };
          } catch (err) {
            if (!NO_RPC_METHOD.test((err as Error)?.message ?? "")) throw err;
            rpc = false; // a fetch-only worker: POST from now on
          }
        }
        const res = await app.fetch("https://app.internal/xmpp/inbound", {
          method: "POST",
          headers: { "content-type": DELIVERY_CONTENT_TYPE },
          body: xml,
        });
        return fromStatus(res, "APP");
      } catch (err) {
        return { ok: false, retryable: true, reason: `APP failed: ${(err as Error).message}` };
      }
    },
  };
}

/** Backoff between attempts: 4 attempts over ~6 s by default. The DO's alarm-free path sleeps inline. */
export const DEFAULT_RETRY_DELAYS_MS = [250, 1000, 5000] as const;

/**
 * Sends with retries. `sleep` is injected (tests pass a no-op). Returns the last outcome; the caller
 * bounces the stanza with `service-unavailable` when it is not ok.
 */
export async function deliverWithRetry(
  transport: DeliveryTransport,
  xml: string,
  clock: { now(): number; sleep(ms: number): Promise<void> },
  delaysMs: readonly number[] = DEFAULT_RETRY_DELAYS_MS,
  id: string = newWebhookId(),
): Promise<DeliveryOutcome & { attempts: number }> {
  let attempts = 0;
  for (;;) {
    attempts++;
    const outcome = await transport.send(xml, clock.now(), id);
    if (outcome.ok || !outcome.retryable || attempts > delaysMs.length) return { ...outcome, attempts };
    await clock.sleep(delaysMs[attempts - 1]!);
  }
}
