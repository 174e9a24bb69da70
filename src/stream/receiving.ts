// Receiving Server role (XEP-0220 §2.2.1, §2.1.2 step 4): db:result requests from the peer, the
// verdict from the Authoritative Server, dialback errors (§2.4), and the check every inbound stanza
// passes (only verified pairs; XEP-0288 adds the inverse of pairs we verified).

import type { Element } from "ltx";
import { bounce, StanzaError, StreamError, type StreamErrorCondition } from "../errors.js";
import type { Domain } from "../types.js";
import type { VerifyOutcome } from "../engine/actions.js";
import { LEVEL_RANK } from "../engine/ports.js";
import { dbResult, type DialbackCondition, type DialbackElement } from "../dialback/elements.js";
import { pairKey, splitPairKey, validInbound } from "../dialback/pairs.js";
import { audit, emit, levelFor, pairCount, pairsFull, pairState, send, sendClose, type Ctx } from "./context.js";
import { canonicalJid, toDomain } from "./addressing.js";
import { fail, finish } from "./ending.js";

// XEP-0220 §2.2.1: Receiving Server gets a key from an Initiating Server.
export function onResultRequest(c: Ctx, db: DialbackElement, now: number): void {
  if (c.role === "initiating" && !c.bidi) {
    // Without XEP-0288 the peer must not authenticate towards us on our own outgoing stream.
    return fail(c, new StreamError("unsupported-stanza-type", "db:result request on a unidirectional outgoing stream"));
  }
  const sender = toDomain(db.from);
  const target = toDomain(db.to);
  if (!sender) return fail(c, new StreamError("invalid-from", "db:result without a valid 'from'"));
  if (!target || !c.policy.isHosted(target)) {
    // XEP-0220 §2.2.1: a dialback error, not a stream error (other pairs may use this stream).
    return refuseInbound(c, sender, (target ?? db.to ?? "") as Domain, "item-not-found", "host-unknown", false);
  }
  const key = pairKey(sender, target);
  const existing = c.inbound.get(key);
  if (existing?.state === "valid") {
    send(c, dbResult({ from: target, to: sender, type: "valid" }));
    return;
  }
  if (existing) return; // already pending: the answer to the first request will come
  const pol = c.policy.forRemote(sender);
  if (!pol.allowed) {
    audit(c, "policy-refusal", `inbound ${sender} -> ${target} refused by policy${pol.reason ? `: ${pol.reason}` : ""}`, target, sender);
    return refuseInbound(c, sender, target, pol.condition, pol.condition === "forbidden" ? "policy-violation" : pol.condition);
  }
  const level = levelFor(c, sender);
  if (LEVEL_RANK[level] < LEVEL_RANK[pol.minLevel]) {
    // XEP-0220 §2.4: policy-violation = TLS required first; not-authorized = a valid certificate
    // is required. XEP-0238 §4 shows pre-1.0 peers a not-authorized stream error.
    const condition = pol.minLevel === "trusted" && c.secure ? "not-authorized" : "policy-violation";
    audit(c, "policy-refusal", `inbound ${sender} -> ${target} at level ${level}, policy wants ${pol.minLevel}`, target, sender);
    return refuseInbound(c, sender, target, condition, "not-authorized");
  }
  if (pairsFull(c)) {
    // A capacity limit, not a verdict on the peer: `resource-constraint` (RFC 6120 §8.3.3.18, type
    // wait; XEP-0220 §2.4 allows any stanza error condition and reserves `policy-violation` for
    // "TLS before dialback"). XEP-0220 §3: the peer can open another stream for more pairs. Sent
    // as a dialback error even to peers that did not announce them (§2.4: "SHOULD still attempt
    // to send the dialback error instead of terminating the stream"), so the pairs already
    // verified on this stream are never torn down for it.
    audit(c, "policy-refusal", `pair limit reached (${pairCount(c)} pairs on this stream)`, target, sender);
    send(c, dbResult({ from: target, to: sender, type: "error", condition: "resource-constraint" }));
    pairState(c, "inbound", target, sender, "error", { condition: "resource-constraint" });
    return;
  }
  if (c.pending >= c.policy.limits().maxPendingPerStream) {
    audit(c, "policy-refusal", `too many pending dialback requests on one stream`, target, sender);
    return refuseInbound(c, sender, target, "policy-violation", "policy-violation");
  }
  if (level === "trusted") {
    // XEP-0220 §1.2 / XEP-0344: a CA-valid certificate for the sender proves the identity
    // ("dialback without dialing back").
    c.inbound.set(key, validInbound(level));
    send(c, dbResult({ from: target, to: sender, type: "valid" }));
    pairState(c, "inbound", target, sender, "valid", { level });
    return;
  }
  const handle = c.nextHandle++;
  const deadline = now + c.timeouts.dialback;
  c.inbound.set(key, { state: "pending", handle, deadline, key: db.key });
  c.inByHandle.set(handle, key);
  c.inDeadlines.push(deadline, handle);
  c.pending++;
  pairState(c, "inbound", target, sender, "pending");
  emit(c, { type: "verify", handle, from: target, to: sender, id: c.streamId!, key: db.key });
}

/**
 * A dialback error for an inbound request (XEP-0220 §2.4) when the peer handles them, else the
 * RFC 3920 way: a stream error.
 */
export function refuseInbound(
  c: Ctx,
  sender: Domain,
  target: Domain,
  condition: DialbackCondition,
  legacy: StreamErrorCondition,
  report = true,
): void {
  if (c.peerDialbackErrors) {
    send(c, dbResult({ from: target, to: sender, type: "error", condition }));
    if (report) pairState(c, "inbound", target, sender, "error", { condition });
    else c.refusedClaims++;
  } else {
    if (report) pairState(c, "inbound", target, sender, "error", { condition });
    fail(c, new StreamError(legacy));
  }
}

/** Answer to a `verify` action (receiving role, XEP-0220 §2.1.2 step 3 -> step 4). */
export function verifyResult(c: Ctx, handle: number, outcome: VerifyOutcome, _now: number): void {
  const key = c.inByHandle.get(handle);
  if (key === undefined || c.phase.name === "closed") return; // timed out or stream gone
  const rec = c.inbound.get(key);
  if (!rec || rec.state !== "pending" || rec.handle !== handle) return;
  c.inByHandle.delete(handle);
  c.pending--;
  const [sender, target] = splitPairKey(key);
  if (outcome.type === "valid") {
    // OF-2626: record the pair before type='valid' leaves, so a stanza right behind it is accepted.
    const level = levelFor(c, sender);
    c.inbound.set(key, validInbound(level));
    send(c, dbResult({ from: target, to: sender, type: "valid" }));
    pairState(c, "inbound", target, sender, "valid", { level });
    return;
  }
  c.inbound.delete(key);
  pairFailed(c, sender, target, outcome);
}

// The verdict on a pair that failed: its dialback error (or type='invalid' and the close), then the
// per-stream cap on failed pairs.
function pairFailed(c: Ctx, sender: Domain, target: Domain, outcome: Exclude<VerifyOutcome, { type: "valid" }>): void {
  refuseFailed(c, sender, target, outcome);
  if (c.phase.name === "closed") return;
  // Issue 10.8: seed 001 keeps a stream alive through one bad pair, but every failed pair cost a
  // db:verify to the claimed domain's authority (a spoofer makes us pester its victim). Past
  // maxFailedPairsPerStream the peer has shown enough: the stream ends (RFC 6120 §4.9.3.15
  // policy-violation: "a local service policy"). A refusal for our own lack of capacity is not the
  // peer's failure and does not count.
  if (outcome.type === "error" && outcome.condition === "resource-constraint") return;
  const max = c.policy.limits().maxFailedPairsPerStream;
  if (++c.failedPairs <= max) return;
  audit(c, "policy-refusal", `${c.failedPairs} failed domain pairs on one stream (limit ${max})`, target, sender);
  fail(c, new StreamError("policy-violation", `too many failed domain pairs on this stream (limit ${max})`));
}

function refuseFailed(c: Ctx, sender: Domain, target: Domain, outcome: Exclude<VerifyOutcome, { type: "valid" }>): void {
  if (outcome.type === "invalid") {
    audit(c, "spoofing-attempt", `authority for ${sender} said the key for ${sender} -> ${target} is invalid`, target, sender);
    const pol = c.policy.forRemote(sender);
    const keep = !pol.allowed || pol.onPairFailure === "keep-stream";
    if (c.peerDialbackErrors && keep) {
      // XEP-0220 §2.1.2 + seed 001: a dialback error keeps the other pairs on this stream.
      send(c, dbResult({ from: target, to: sender, type: "error", condition: "forbidden" }));
      pairState(c, "inbound", target, sender, "invalid", { condition: "forbidden" });
    } else {
      // XEP-0220 §2.2.1: type='invalid' obliges us to close the stream.
      send(c, dbResult({ from: target, to: sender, type: "invalid" }));
      pairState(c, "inbound", target, sender, "invalid");
      sendClose(c);
      finish(c, "us");
    }
    return;
  }
  // XEP-0220 §2.4: connection problems pass through; an error from the authority in step 3 is
  // reported as remote-server-not-found. resource-constraint: the edge's verification budget refused
  // the work (issue 10), which is ours to say, not the authority's.
  const got = outcome.condition;
  const condition: DialbackCondition =
    got === "remote-connection-failed" || got === "remote-server-timeout" || got === "remote-server-not-found" || got === "resource-constraint"
      ? got
      : "remote-server-not-found";
  refuseInbound(c, sender, target, condition, "remote-connection-failed");
}

// RFC 6120 §4.9.3.9 / XEP-0220 §2: only stanzas on a verified pair (or, with XEP-0288, the inverse
// of a pair we verified) are accepted; everything else ends the stream. Addresses are checked and
// delivered in canonical form (RFC 7622, ./addressing.ts): the application sees exactly the domain
// that was verified, never "peer。test" or "PEER.TEST." for it. A 'from' whose domainpart is no
// domain names no verified domain (invalid-from: a reply could not be addressed to it anyway).
export function onStanza(c: Ctx, el: Element): void {
  const rawFrom = el.attrs.from as string | undefined;
  const rawTo = el.attrs.to as string | undefined;
  if (rawFrom === undefined || rawTo === undefined) {
    return fail(c, new StreamError("improper-addressing", "S2S stanzas need from and to"));
  }
  const from = canonicalJid(rawFrom);
  const to = canonicalJid(rawTo);
  const fromDomain = from.ok ? from.jid.domain : from.domain;
  const toDomain = to.ok ? to.jid.domain : to.domain;
  if (!toDomain || !c.policy.isHosted(toDomain)) {
    audit(c, "unauthorized-stanza", `stanza to unhosted '${rawTo}'`, undefined, fromDomain);
    return fail(c, new StreamError("host-unknown"));
  }
  if (!fromDomain || !mayReceive(c, fromDomain, toDomain)) {
    audit(c, "unauthorized-stanza", `stanza from '${rawFrom}' to ${toDomain} on no verified pair`, toDomain, fromDomain);
    return fail(c, new StreamError("invalid-from"));
  }
  if (!from.ok || !to.ok) {
    // RFC 6120 §8.3.3.8: an address with no canonical form (RFC 7622) is refused with a stanza
    // error, answered to the verified sender; the stream and its pairs carry on.
    const reply = bounce(el, new StanzaError("jid-malformed", `${from.ok ? "'to'" : "'from'"} is not a valid XMPP address`));
    if (reply) {
      reply.attrs.from = to.ok ? to.jid.full : toDomain;
      emit(c, { type: "reply", stanza: reply, condition: "jid-malformed" });
    }
    return;
  }
  if (rawFrom !== from.jid.full) el.attrs.from = from.jid.full;
  if (rawTo !== to.jid.full) el.attrs.to = to.jid.full;
  emit(c, { type: "deliver", stanza: el, from: fromDomain, to: toDomain });
}

export function mayReceive(c: Ctx, remote: Domain, local: Domain): boolean {
  if (c.inbound.get(pairKey(remote, local))?.state === "valid") return true;
  return c.bidi && c.outbound.get(pairKey(local, remote))?.state === "valid";
}
