// Snapshot and restore of a stream's state for Durable Object hibernation (JSON, queued stanzas as
// XML strings). Key work in flight at snapshot time is requested again on restore.

import { parse } from "ltx";
import type { Domain, StreamId } from "../types.js";
import { copyFacts, type StreamFacts, type StreamSnapshot } from "../engine/snapshot.js";
import { splitPairKey, validInbound, validOutbound, verifyKey, type OutstandingVerify } from "../dialback/pairs.js";
import { emit, type Ctx } from "./context.js";
import { requestKey } from "./originating.js";
import { emitCheck } from "./verification.js";
import { EngineUsageError } from "./phase.js";

/** `withInbound: false`: the inbound pairs are left out (a shell saving them one row each, inboundChanges). */
export function snapshot(c: Ctx, withInbound = true): StreamSnapshot {
  return {
    v: 1,
    role: c.role,
    legacy: c.legacy,
    ...copyFacts(c),
    inbound: withInbound ? [...c.inbound] : [],
    outbound: [...c.outbound].map(([k, r]) => {
      if (r.state === "keying") return [k, { state: "keying", queue: r.queue.map(String) }];
      if (r.state === "pending") return [k, { state: "pending", deadline: r.deadline, queue: r.queue.map(String) }];
      return [k, r];
    }),
    verifies: [...c.verifyByHandle.values()].map((v) => ({ ...v })),
    checks: [...c.checks],
  };
}

/** The inbound pairs set ([key, rec]) or removed ([key, null]) since the last call (all at the first). */
export function inboundChanges(c: Ctx): [key: string, rec: StreamSnapshot["inbound"][number][1] | null][] {
  return c.inbound.takeChanges().map((k) => [k, c.inbound.get(k) ?? null]);
}

/** Fills a fresh context (same role) from `snap`; then re-emits key work that was in flight. */
export function restoreInto(c: Ctx, snap: StreamSnapshot): void {
  if (snap.v !== 1) throw new EngineUsageError(`unknown snapshot version ${String(snap.v)}`);
  if (snap.role !== c.role) throw new EngineUsageError("snapshot role mismatch");
  // Brands: the snapshot was taken from a context, so its domains and ids were branded then.
  Object.assign(c, copyFacts(snap as StreamFacts<StreamId, Domain>));
  // Snapshots from before SASL EXTERNAL have no `sasl` fact: nothing was offered on them.
  c.sasl ??= "none";
  c.saslFailures ??= 0;
  c.failedPairs ??= 0;
  c.refusedClaims ??= 0;

  // Deadline queues must be filled in deadline order.
  const inPending: { key: string; handle: number; deadline: number; dbKey: string | undefined }[] = [];
  for (const [key, r] of snap.inbound) {
    if (r.state === "valid") c.inbound.set(key, validInbound(r.level));
    else {
      c.inbound.set(key, { state: "pending", handle: r.handle, deadline: r.deadline, key: r.key ?? "" });
      inPending.push({ key, handle: r.handle, deadline: r.deadline, dbKey: r.key });
    }
  }
  for (const p of inPending.sort((a, b) => a.deadline - b.deadline)) {
    c.inByHandle.set(p.handle, p.key);
    c.inDeadlines.push(p.deadline, p.handle);
    c.pending++;
    // XEP-0220 §2.1.2 step 2 again: the question to the authority died with the old instance (its
    // answer, if any, went to a caller that is gone). Same handle, so the answer lands on this pair.
    if (p.dbKey && c.streamId !== undefined) {
      const [sender, target] = splitPairKey(p.key);
      emit(c, { type: "verify", handle: p.handle, from: target, to: sender, id: c.streamId, key: p.dbKey });
    }
  }

  const outPending: [string, number][] = [];
  for (const [key, r] of snap.outbound) {
    if (r.state === "valid") c.outbound.set(key, validOutbound(r.level));
    else if (r.state === "failed") c.outbound.set(key, { state: "failed", condition: r.condition });
    else {
      const queue = r.queue.map((x) => parse(x));
      c.pending++;
      if (r.state === "pending" && r.deadline !== undefined) {
        c.outbound.set(key, { state: "pending", deadline: r.deadline, queue });
        outPending.push([key, r.deadline]);
      } else c.outbound.set(key, { state: "keying", handle: 0, queue });
    }
  }
  for (const [key, at] of outPending.sort((a, b) => a[1] - b[1])) c.outDeadlines.push(at, key);

  for (const v of [...snap.verifies].sort((a, b) => a.deadline - b.deadline)) {
    const ov: OutstandingVerify = { ...v, from: v.from as Domain, to: v.to as Domain };
    const k = verifyKey(ov.from, ov.to, ov.id);
    const list = c.verifies.get(k);
    if (list) list.push(ov);
    else c.verifies.set(k, [ov]);
    c.verifyByHandle.set(ov.handle, ov);
    c.verifyDeadlines.push(ov.deadline, ov.handle);
  }

  if (c.phase.name === "open") {
    for (const [key, rec] of c.outbound) if (rec.state === "keying") requestKey(c, key, rec);
  }
  for (const [h, req] of snap.checks) {
    const r = { from: req.from as Domain, to: req.to as Domain, id: req.id, key: req.key };
    c.checks.set(h, r);
    emitCheck(c, h, r);
  }
}
