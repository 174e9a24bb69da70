// db:verify in both directions: as Authoritative Server we answer requests on any stream
// (XEP-0220 §2.2.2; keys are checked by DialbackKeys in constant time, outside the engine); as
// Receiving Server we send requests on a stream to an authority and match each answer to an
// outstanding request on that same stream by (from, to, id) (§2.1.2, §4.1).

import { StreamError } from "../errors.js";
import type { Domain, StreamId } from "../types.js";
import type { VerifyOutcome } from "../engine/actions.js";
import { dbVerify, type DialbackCondition, type DialbackElement } from "../dialback/elements.js";
import { verifyKey, type OutstandingVerify } from "../dialback/pairs.js";
import { audit, emit, send, type Ctx, type KeyCheck } from "./context.js";
import { toDomain } from "./addressing.js";
import { fail } from "./ending.js";
import { EngineUsageError } from "./phase.js";
import { dropVerify } from "./outstanding-verifies.js";

/**
 * Use this stream to reach an Authoritative Server (XEP-0220 §2.1.2 step 2): send
 * `<db:verify from to id>key</db:verify>` (once the stream is open) and report the answer as a
 * `verify-result` action with the returned handle. Many requests may be outstanding.
 */
export function requestVerify(c: Ctx, req: { from: Domain; to: Domain; id: string; key: string }, now: number): number {
  if (c.streamId !== undefined && req.id === c.streamId) {
    // XEP-0288 §2.1 / XEP-0220 §4: never verify a key on the connection it was received on.
    throw new EngineUsageError("a key must not be verified on the stream it was received on");
  }
  if (!c.policy.isHosted(req.from)) throw new EngineUsageError(`${req.from} is not a hosted domain`);
  const handle = c.nextHandle++;
  const answerError = (condition: DialbackCondition) =>
    emit(c, { type: "verify-result", handle, from: req.from, to: req.to, id: req.id, outcome: { type: "error", condition } });
  if (c.phase.name === "closed") {
    answerError("remote-connection-failed");
    return handle;
  }
  if (c.verifyByHandle.size >= c.policy.limits().maxOutstandingVerifies) {
    answerError("resource-constraint");
    return handle;
  }
  const v: OutstandingVerify = { handle, ...req, sent: false, deadline: now + c.timeouts.verify };
  const k = verifyKey(req.from, req.to, req.id);
  const list = c.verifies.get(k);
  if (list) list.push(v);
  else c.verifies.set(k, [v]);
  c.verifyByHandle.set(handle, v);
  c.verifyDeadlines.push(v.deadline, handle);
  if (c.phase.name === "open") sendVerify(c, v);
  else c.quietChanges++;
  return handle;
}

// XEP-0220 §2.2.2: Authoritative Server answers a db:verify (on any stream; verify-only streams
// need no authentication).
export function onVerifyRequest(c: Ctx, db: DialbackElement): void {
  const from = toDomain(db.from);
  if (!from || !db.id || db.to === undefined) {
    return fail(c, new StreamError("bad-format", "db:verify needs from, to and id"));
  }
  const to = toDomain(db.to);
  if (!to || !c.policy.isHosted(to)) {
    send(c, dbVerify({ from: db.to as Domain, to: from, id: db.id, type: "error", condition: "item-not-found" }));
    return;
  }
  const handle = c.nextHandle++;
  const req = { from, to, id: db.id, key: db.key };
  c.checks.set(handle, req);
  emitCheck(c, handle, req);
}

export function emitCheck(c: Ctx, handle: number, req: KeyCheck): void {
  // The formulas policy accepts now (a knob the admin API can change); read per check, not cached.
  const formulas = c.policy.limits().keyFormulas;
  emit(c, {
    type: "key",
    op: "check",
    handle,
    input: { receiving: req.from, originating: req.to, streamId: req.id as StreamId },
    key: req.key,
    ...(formulas ? { formulas } : {}),
  });
}

// XEP-0220 §2.1.2 step 3: the authority's answer must match an outstanding request on this stream.
export function onVerifyResponse(c: Ctx, db: DialbackElement): void {
  const k = db.id !== undefined && db.from !== undefined && db.to !== undefined ? verifyKey(db.to, db.from, db.id) : undefined;
  const v = k ? c.verifies.get(k)?.find((x) => x.sent) : undefined;
  if (!v) {
    audit(c, "unsolicited-dialback", `db:verify type='${db.type}' from='${db.from}' to='${db.to}' id='${db.id}' answers no request on this stream`);
    return;
  }
  const outcome: VerifyOutcome =
    db.type === "valid" ? { type: "valid" } : db.type === "invalid" ? { type: "invalid" } : { type: "error", condition: db.condition ?? "undefined-condition" };
  // The answer is about (from, to, id, key), so it settles every request sent for exactly that: the
  // same question asked twice (a receiving session restored after eviction asks again, while the
  // first request's caller is gone) must not leave the second waiting for an answer never repeated.
  for (const same of [...c.verifies.get(k!)!].filter((x) => x.sent && x.key === v.key)) {
    dropVerify(c, same);
    emit(c, { type: "verify-result", handle: same.handle, from: same.from, to: same.to, id: same.id, outcome });
  }
}

export function sendVerify(c: Ctx, v: OutstandingVerify): void {
  v.sent = true;
  send(c, dbVerify({ from: v.from, to: v.to, id: v.id, key: v.key }));
}

/** Result of a `key`/"check" action (authoritative role, XEP-0220 §2.2.2). */
export function keyChecked(c: Ctx, handle: number, valid: boolean, _now: number): void {
  const req = c.checks.get(handle);
  if (!req) return;
  c.checks.delete(handle);
  if (c.phase.name === "closed") return;
  // From/to swapped, id copied (XEP-0220 §2.2.2).
  send(c, dbVerify({ from: req.to, to: req.from, id: req.id, type: valid ? "valid" : "invalid" }));
}
