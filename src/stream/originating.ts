// Originating (Initiating) Server role (XEP-0220 §2.1.1): authenticate pairs on this stream (sender
// and target multiplexing), queue stanzas until type='valid', bounce them per the one table when
// dialback fails, and accept only answers to requests we sent on this stream (§4.1).

import type { Element } from "ltx";
import type { StanzaErrorCondition } from "../errors.js";
import type { Domain } from "../types.js";
import type { PairStateName } from "../engine/actions.js";
import { LEVEL_RANK } from "../engine/ports.js";
import { dbResult, type DialbackCondition, type DialbackElement } from "../dialback/elements.js";
import { pairKey, splitPairKey, validOutbound, type OutboundPair } from "../dialback/pairs.js";
import { audit, bounceAll, emit, levelFor, pairsFull, pairState, send, type Ctx } from "./context.js";
import { jidDomain, toDomain } from "./addressing.js";
import { EngineUsageError } from "./phase.js";

/** Bounce condition for a pair whose dialback ended with `condition` (the issue's one table). */
export function bounceConditionFor(condition: DialbackCondition): StanzaErrorCondition {
  switch (condition) {
    case "internal-server-error": // type='invalid' (seed 001, XEP-0220 §2.1.1)
    case "resource-constraint":
    case "forbidden":
    case "policy-violation":
    case "remote-server-not-found":
      return condition;
    case "not-authorized":
      return "forbidden";
    default:
      // XEP-0220 §2.4: any dialback error -> remote-server-timeout.
      return "remote-server-timeout";
  }
}

/**
 * Originating role, XEP-0220 §2.1.1: authenticate `local` -> `remote` on this stream (sender
 * multiplexing, target multiplexing). Allowed on initiating streams, and on receiving streams once
 * XEP-0288 bidi is enabled. Stanzas for the pair queue until `type='valid'`.
 */
export function authenticate(c: Ctx, local: Domain, remote: Domain, now: number): void {
  if (c.role !== "initiating" && !c.bidi) {
    throw new EngineUsageError("dialback as originating needs an initiating or bidi stream");
  }
  if (!c.policy.isHosted(local)) throw new EngineUsageError(`${local} is not a hosted domain`);
  const key = pairKey(local, remote);
  const existing = c.outbound.get(key);
  if (existing && existing.state !== "failed") return;
  if (c.phase.name === "closed") {
    c.outbound.set(key, { state: "failed", condition: "remote-server-timeout" });
    pairState(c, "outbound", local, remote, "error", { condition: "remote-server-timeout" });
    return;
  }
  const pol = c.policy.forRemote(remote);
  if (!pol.allowed) {
    c.outbound.set(key, { state: "failed", condition: pol.condition });
    audit(c, "policy-refusal", `outbound ${local} -> ${remote} refused by policy${pol.reason ? `: ${pol.reason}` : ""}`, local, remote);
    pairState(c, "outbound", local, remote, "error", { condition: pol.condition });
    return;
  }
  if (c.pending >= c.policy.limits().maxPendingPerStream || pairsFull(c)) {
    // Capacity, not a verdict: the new pair fails with resource-constraint (its stanzas bounce so);
    // the shell may authenticate it on another stream (XEP-0220 §3). Existing pairs are untouched.
    c.outbound.set(key, { state: "failed", condition: "resource-constraint" });
    pairState(c, "outbound", local, remote, "error", { condition: "resource-constraint" });
    return;
  }
  const rec: OutboundPair = { state: "keying", handle: 0, queue: [] };
  c.outbound.set(key, rec);
  c.pending++;
  pairState(c, "outbound", local, remote, "pending");
  if (c.phase.name === "open") requestKey(c, key, rec);
  void now;
}

/**
 * Route a stanza from a local sender to the peer. Sent at once on a verified pair (or, with bidi,
 * the inverse of a pair the peer verified); otherwise queued behind dialback (started if needed),
 * or bounced (closed stream, full queue, policy).
 */
export function sendStanza(c: Ctx, stanza: Element, now: number): void {
  const from = jidDomain(stanza.attrs.from);
  const to = jidDomain(stanza.attrs.to);
  if (!from || !to) throw new EngineUsageError("stanza needs valid from and to addresses");
  if (!c.policy.isHosted(from)) throw new EngineUsageError(`${from} is not a hosted domain`);
  if (c.phase.name === "closed") {
    bounceAll(c, [stanza], c.peerHeaderSeen ? "remote-server-timeout" : "remote-server-not-found");
    return;
  }
  if (maySend(c, from, to)) {
    send(c, stanza);
    return;
  }
  if (c.role !== "initiating" && !c.bidi) {
    throw new EngineUsageError("a receiving stream without bidi cannot carry outgoing stanzas");
  }
  const key = pairKey(from, to);
  let rec = c.outbound.get(key);
  if (!rec || rec.state === "failed") {
    c.outbound.delete(key);
    authenticate(c, from, to, now);
    rec = c.outbound.get(key)!;
  }
  if (rec.state === "failed") {
    bounceAll(c, [stanza], bounceConditionFor(rec.condition));
  } else if (rec.state === "valid") {
    send(c, stanza);
  } else if (rec.queue.length >= c.policy.limits().maxQueuedPerPair) {
    bounceAll(c, [stanza], "resource-constraint");
  } else {
    rec.queue.push(stanza);
    c.quietChanges++;
  }
}

// XEP-0220 §2.1.1 step 4: the answer to our db:result. Only for a request we sent on this very
// stream in this direction (XEP-0220 §4.1, XEP-0288 §4); anything else is unsolicited.
export function onResultResponse(c: Ctx, db: DialbackElement): void {
  const local = toDomain(db.to);
  const remote = toDomain(db.from);
  const key = local && remote ? pairKey(local, remote) : undefined;
  const rec = key ? c.outbound.get(key) : undefined;
  if (!key || !rec || rec.state !== "pending") {
    audit(c, "unsolicited-dialback", `db:result type='${db.type}' from='${db.from}' to='${db.to}' answers no request on this stream`, local, remote);
    return;
  }
  c.pending--;
  if (db.type === "valid") {
    const level = levelFor(c, remote!);
    c.outbound.set(key, validOutbound(level));
    pairState(c, "outbound", local!, remote!, "valid", { level });
    for (const stanza of rec.queue) send(c, stanza);
  } else if (db.type === "invalid") {
    // XEP-0220 §2.1.1 / seed 001: queued stanzas return with internal-server-error.
    c.outbound.set(key, { state: "failed", condition: "internal-server-error" });
    pairState(c, "outbound", local!, remote!, "invalid");
    bounceAll(c, rec.queue, "internal-server-error");
  } else {
    const condition = db.condition ?? "undefined-condition";
    c.outbound.set(key, { state: "failed", condition });
    pairState(c, "outbound", local!, remote!, "error", { condition });
    // XEP-0220 §2.4: dialback errors return queued stanzas with remote-server-timeout.
    bounceAll(c, rec.queue, "remote-server-timeout");
  }
}

/** Result of a `key`/"generate" action (originating role). */
export function keyGenerated(c: Ctx, handle: number, key: string, now: number): void {
  const pk = c.keyOps.get(handle);
  if (pk === undefined) return;
  c.keyOps.delete(handle);
  const rec = c.outbound.get(pk);
  if (!rec || rec.state !== "keying" || rec.handle !== handle || c.phase.name !== "open") return;
  const [local, remote] = splitPairKey(pk);
  const pol = c.policy.forRemote(remote);
  if (pol.allowed && LEVEL_RANK[levelFor(c, remote)] < LEVEL_RANK[pol.minLevel]) {
    // XEP-0238: our policy wants more than this stream gives (no TLS, or no valid certificate).
    failOutbound(c, pk, rec.queue, "policy-violation", "error");
    audit(c, "policy-refusal", `stream to ${remote} does not reach level ${pol.minLevel}`, local, remote);
    return;
  }
  const deadline = now + c.timeouts.dialback;
  c.outbound.set(pk, { state: "pending", deadline, queue: rec.queue });
  c.outDeadlines.push(deadline, pk);
  send(c, dbResult({ from: local, to: remote, key }));
}

export function requestKey(c: Ctx, key: string, rec: Extract<OutboundPair, { state: "keying" }>): void {
  rec.handle = c.nextHandle++;
  c.keyOps.set(rec.handle, key);
  const [local, remote] = splitPairKey(key);
  // XEP-0185 §3: key over (receiving = target, originating = sender, stream id of this stream).
  emit(c, { type: "key", op: "generate", handle: rec.handle, input: { receiving: remote, originating: local, streamId: c.streamId! } });
}

export function failOutbound(c: Ctx, key: string, queue: Element[], condition: DialbackCondition, state: PairStateName): void {
  const [local, remote] = splitPairKey(key);
  c.outbound.set(key, { state: "failed", condition });
  c.pending--;
  pairState(c, "outbound", local, remote, state, { condition });
  bounceAll(c, queue, bounceConditionFor(condition));
}

export function maySend(c: Ctx, local: Domain, remote: Domain): boolean {
  if (c.phase.name !== "open") return false;
  if (c.outbound.get(pairKey(local, remote))?.state === "valid") return true;
  // XEP-0288 §2.2: the inverse of a pair the peer verified with us.
  return c.bidi && c.inbound.get(pairKey(remote, local))?.state === "valid";
}

/** Withdraw a pair (e.g. policy changed): both directions; later stanzas on it are refused. */
export function revoke(c: Ctx, local: Domain, remote: Domain, _now: number): void {
  const inKey = pairKey(remote, local);
  const inRec = c.inbound.get(inKey);
  if (inRec) {
    if (inRec.state === "pending") {
      c.inByHandle.delete(inRec.handle);
      c.pending--;
    }
    c.inbound.delete(inKey);
    pairState(c, "inbound", local, remote, "revoked");
  }
  const outKey = pairKey(local, remote);
  const outRec = c.outbound.get(outKey);
  if (outRec && outRec.state !== "failed") {
    if (outRec.state !== "valid") {
      c.pending--;
      bounceAll(c, outRec.queue, "forbidden");
    }
    c.outbound.set(outKey, { state: "failed", condition: "forbidden" });
    pairState(c, "outbound", local, remote, "revoked");
  }
}
