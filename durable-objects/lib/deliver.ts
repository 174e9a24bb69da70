// Hands a stanza to the operator's application: APP service binding, else the signed webhook, else
// the built-in local app (LocalApp DO). Returns what must go back to the remote sender: the local
// app's replies, or a service-unavailable bounce once every retry failed. Every call has the deadline
// DELIVERY_TIMEOUT_MS (lib/deadline.ts), so a hung application costs an attempt, never the queue.

import { parse, type Element } from "ltx";
import type { Env } from "../env.js";
import {
  appStanzaElement,
  deliverWithRetry,
  type AppStanza,
  serviceBindingTransport,
  undeliverable,
  webhookTransport,
  type DeliveryTransport,
} from "../../src/delivery/index.js";
import { webhookIdFor } from "../../src/delivery/signature.js";
import { localAppStub } from "./stubs.js";
import { timed, withDeadline } from "./deadline.js";
import { edgeConfig } from "./config.js";
import { log } from "./log.js";

/**
 * The operator's application as a transport, every call under `deadlineMs` (DELIVERY_TIMEOUT_MS): a
 * call that misses it is a failed, retryable attempt, like a network error.
 */
const KNOB = "DELIVERY_TIMEOUT_MS";

export function appTransport(env: Env, deadlineMs: number): DeliveryTransport | undefined {
  if (env.APP) {
    const app = env.APP;
    return serviceBindingTransport({
      ...(typeof app.deliver === "function" ? { deliver: (xml: string) => withDeadline(app.deliver!(xml), deadlineMs, "APP.deliver", KNOB) } : {}),
      fetch: async (url, init) => discardBody(await withDeadline(app.fetch(url, timed(init, deadlineMs)), deadlineMs, "APP", KNOB)),
    });
  }
  if (env.DELIVERY_WEBHOOK_URL) {
    return webhookTransport(env.DELIVERY_WEBHOOK_URL, env.DELIVERY_WEBHOOK_SECRET, async (url, init) =>
      discardBody(await withDeadline(fetch(url, timed(init, deadlineMs)), deadlineMs, "the webhook", KNOB)),
    );
  }
  return undefined;
}

// Only the status is used: cancel the body so the connection is not held by a slow one.
function discardBody(res: Response): Response {
  res.body?.cancel().catch(() => {});
  return res;
}

const clock = { now: () => Date.now(), sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)) };

/** The local app (LocalApp DO) under the same deadline: a hung call throws, so the queue retries later. */
const localApp = (env: Env, deadlineMs: number, stanzas: AppStanza[], source?: string) =>
  withDeadline(localAppStub(env).deliverMany(stanzas, source), deadlineMs, "the local app", KNOB);

/** Delivers; resolves with stanzas to send back to the remote side (replies or a bounce). */
export async function deliverToApp(env: Env, stanza: AppStanza, where?: string): Promise<Element[]> {
  const { timeouts } = await edgeConfig(env);
  const transport = appTransport(env, timeouts.deliveryMs);
  if (!transport) {
    const [replies = []] = await localApp(env, timeouts.deliveryMs, [stanza]);
    return replies.map((r) => parse(r) as Element);
  }
  // The webhook-id: stable across retries, and across a second delivery of the same queue row.
  const id = where !== undefined && stanza.row !== undefined ? await webhookIdFor(`${where}@${stanza.row}`) : undefined;
  const outcome = await deliverWithRetry(transport, stanza.xml, clock, undefined, id);
  if (outcome.ok) return [];
  log(env, "warn", "delivery.failed", {
    transport: transport.name, attempts: outcome.attempts, reason: outcome.reason, outcome: "bounced with service-unavailable",
    kind: stanza.name, from: stanza.from, to: stanza.to,
  });
  const b = undeliverable(appStanzaElement(stanza), `the application did not accept the stanza (${outcome.reason})`);
  return b ? [b] : [];
}

/**
 * One batch from a session's persisted queue (lib/delivery-queue.ts): per stanza, in order, what
 * goes back to the remote sender. The local app takes the whole batch in one RPC and a failed RPC
 * throws (the queue keeps the batch); the APP binding / webhook get one stanza at a time, in order,
 * each with its retries and, when those fail, the service-unavailable bounce.
 */
export async function deliverBatchToApp(env: Env, stanzas: AppStanza[], source?: string): Promise<Element[][]> {
  const { timeouts } = await edgeConfig(env);
  if (!appTransport(env, timeouts.deliveryMs)) {
    // `source` + each stanza's queue row: the local app stores a batch delivered again only once.
    const replies = await localApp(env, timeouts.deliveryMs, stanzas, source);
    return replies.map((r) => r.map((x) => parse(x) as Element));
  }
  const out: Element[][] = [];
  // Rows are whole in a batch, so a stanza's place in its row is the same at every delivery.
  const inRow = new Map<number | undefined, number>();
  for (const s of stanzas) {
    const n = inRow.get(s.row) ?? 0;
    inRow.set(s.row, n + 1);
    out.push(await deliverToApp(env, s, source === undefined ? undefined : `${source}:${n}`));
  }
  return out;
}
