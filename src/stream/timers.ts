// Deadlines (quinn-proto's poll_timeout/handle_timeout): the earliest of the negotiation deadline and
// the per-request deadlines, and what happens when each passes. Time only ever comes in as `now`.

import { StreamError } from "../errors.js";
import { emit, type Ctx } from "./context.js";
import { fail } from "./ending.js";
import { failOutbound } from "./originating.js";
import { verifyResult } from "./receiving.js";
import { dropVerify } from "./outstanding-verifies.js";
import { unpairedTimeout } from "./unpaired.js";
import type { Phase } from "./phase.js";

/** The next deadline (ms) at which `handleTimeout` must be called, or undefined. */
export function nextDeadline(c: Ctx): number | undefined {
  if (c.phase.name === "closed") return undefined;
  let next = c.phase.name === "open" ? undefined : c.negotiationDeadline;
  const consider = (t: number | undefined) => {
    if (t !== undefined && (next === undefined || t < next)) next = t;
  };
  consider(c.inDeadlines.peek((h, at) => inLive(c, h, at)));
  consider(c.outDeadlines.peek((k, at) => outLive(c, k, at)));
  consider(c.verifyDeadlines.peek((h) => c.verifyByHandle.has(h)));
  consider(c.unpairedDeadline);
  return next;
}
/** Call at (or after) `pollTimeout()`. */
export function onTimeout(c: Ctx, now: number): void {
  if (c.phase.name === "closed") return;
  if (c.phase.name !== "open" && c.negotiationDeadline !== undefined && now >= c.negotiationDeadline) {
    fail(c, new StreamError("connection-timeout", "stream negotiation did not finish in time"));
    return;
  }
  for (const pk of c.outDeadlines.takeDue(now, (k, at) => outLive(c, k, at))) {
    const rec = c.outbound.get(pk);
    if (rec && rec.state === "pending") failOutbound(c, pk, rec.queue, "remote-server-timeout", "error");
  }
  for (const h of c.inDeadlines.takeDue(now, (h, at) => inLive(c, h, at))) {
    verifyResult(c, h, { type: "error", condition: "remote-server-timeout" }, now);
    if ((c.phase as Phase).name === "closed") return;
  }
  for (const h of c.verifyDeadlines.takeDue(now, (h) => c.verifyByHandle.has(h))) {
    const v = c.verifyByHandle.get(h)!;
    dropVerify(c, v);
    emit(c, { type: "verify-result", handle: h, from: v.from, to: v.to, id: v.id, outcome: { type: "error", condition: "remote-server-timeout" } });
  }
  unpairedTimeout(c, now);
}
export function inLive(c: Ctx, handle: number, at: number): boolean {
  const key = c.inByHandle.get(handle);
  const rec = key === undefined ? undefined : c.inbound.get(key);
  return rec?.state === "pending" && rec.handle === handle && rec.deadline === at;
}
export function outLive(c: Ctx, key: string, at: number): boolean {
  const rec = c.outbound.get(key);
  return rec?.state === "pending" && rec.deadline === at;
}