// Hands a stanza to the operator's application: APP service binding, else the signed webhook, else
// the built-in local app (LocalApp DO). Returns what must go back to the remote sender: the local
// app's replies, or a service-unavailable bounce once every retry failed.

import { parse, type Element } from "ltx";
import type { Env } from "../../worker/env.js";
import {
  appStanzaElement,
  deliverWithRetry,
  type AppStanza,
  serviceBindingTransport,
  undeliverable,
  webhookTransport,
  type DeliveryTransport,
} from "../../src/delivery/index.js";
import { localAppStub } from "./stubs.js";

export function appTransport(env: Env): DeliveryTransport | undefined {
  if (env.APP) return serviceBindingTransport(env.APP as never);
  if (env.DELIVERY_WEBHOOK_URL) {
    return webhookTransport(env.DELIVERY_WEBHOOK_URL, env.DELIVERY_WEBHOOK_SECRET, (url, init) => fetch(url, init));
  }
  return undefined;
}

const clock = { now: () => Date.now(), sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)) };

/** Delivers; resolves with stanzas to send back to the remote side (replies or a bounce). */
export async function deliverToApp(env: Env, stanza: AppStanza): Promise<Element[]> {
  const transport = appTransport(env);
  if (!transport) {
    const [replies = []] = await localAppStub(env).deliverMany([stanza]);
    return replies.map((r) => parse(r) as Element);
  }
  const outcome = await deliverWithRetry(transport, stanza.xml, clock);
  if (outcome.ok) return [];
  console.warn(`delivery to ${transport.name} failed after ${outcome.attempts} attempts: ${outcome.reason}`);
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
  if (!appTransport(env)) {
    // `source` + each stanza's queue row: the local app stores a batch delivered again only once.
    const replies = await localAppStub(env).deliverMany(stanzas, source);
    return replies.map((r) => r.map((x) => parse(x) as Element));
  }
  const out: Element[][] = [];
  for (const s of stanzas) out.push(await deliverToApp(env, s));
  return out;
}
