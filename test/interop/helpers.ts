// Shared steps of the interop tests: wait for the edge's default local app to receive a stanza
// (GET /api/v1/inbox), send one from the edge (POST /api/v1/stanzas), read the gateway's log.

import { readFileSync } from "node:fs";
import type { Stack } from "../../scripts/interop/lib/stack.mjs";

export interface InboxItem {
  from: string | null;
  to: string | null;
  kind: string;
  xml: string;
}

/** Polls the edge's inbox until an item matches. */
export async function waitForInbox(stack: Stack, match: (i: InboxItem) => boolean, timeoutMs = 30_000): Promise<InboxItem> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await stack.api("/api/v1/inbox?limit=100");
    if (!res.ok) throw new Error(`GET /api/v1/inbox: ${res.status} ${await res.text()}`);
    const { items } = (await res.json()) as { items: InboxItem[] };
    const hit = items.find(match);
    if (hit) return hit;
    if (Date.now() > deadline) throw new Error(`no matching stanza in the edge's inbox after ${timeoutMs} ms: ${JSON.stringify(items)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The edge's inbox, newest first. */
export async function inbox(stack: Stack): Promise<InboxItem[]> {
  const res = await stack.api("/api/v1/inbox?limit=100");
  return ((await res.json()) as { items: InboxItem[] }).items;
}

/** Sends a stanza from the edge's application; resolves with the API's answer. */
export async function sendFromEdge(stack: Stack, xml: string): Promise<{ status: number; body: unknown }> {
  const res = await stack.api("/api/v1/stanzas", { method: "POST", headers: { "content-type": "application/xml" }, body: xml });
  return { status: res.status, body: await res.json() };
}

/** The gateway's structured log entries. */
export function gatewayLog(stack: Stack): Array<Record<string, unknown>> {
  return readFileSync(stack.gateway.log, "utf8")
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/**
 * The gateway's log once `ready(log)` holds, or as it stands after `timeoutMs` (the caller's
 * assertions then fail with what is there). The gateway writes its log asynchronously, so a line
 * about a frame can land after the peer has already acted on that frame.
 */
export async function gatewayLogWhen(
  stack: Stack,
  ready: (log: Array<Record<string, unknown>>) => boolean,
  timeoutMs = 10_000,
): Promise<Array<Record<string, unknown>>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const log = gatewayLog(stack);
    if (ready(log) || Date.now() > deadline) return log;
    await new Promise((r) => setTimeout(r, 100));
  }
}

let n = 0;
/** A unique message body per test, so assertions never match a previous test's stanza. */
export const uniqueBody = (label: string) => `${label} #${++n} ${Math.random().toString(36).slice(2, 8)}`;

/** PUT /admin/v1/policy with the admin token: the whole policy document (level, knobs, ...). */
export async function putPolicy(stack: Stack, document: Record<string, unknown>): Promise<void> {
  const res = await stack.api("/admin/v1/policy", {
    method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(document),
  }, stack.tokens.admin);
  if (!res.ok) throw new Error(`PUT policy: ${res.status} ${await res.text()}`);
}
