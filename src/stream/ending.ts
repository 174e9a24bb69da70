// How a stream ends (RFC 6120 §4.4, §4.9): a stream error is sent after our header (if none was sent
// yet) and always followed by the close; then nothing pending survives: queued stanzas bounce,
// pending pairs fail, outstanding verifications fail, and `closed` is the last action.

import type { StanzaErrorCondition, StreamError, StreamErrorCondition } from "../errors.js";
import { headerAttrs, type DialbackCondition } from "../dialback/elements.js";
import { splitPairKey } from "../dialback/pairs.js";
import { bounceAll, emit, pairState, send, sendClose, type Ctx } from "./context.js";
import { dropVerify } from "./outstanding-verifies.js";
import { transition } from "./phase.js";

/** RFC 6120 §4.9.1: send the error (after our header if none was sent yet), close, finish. */
export function fail(c: Ctx, err: StreamError, peerAttrs?: Record<string, string>): void {
  if (c.phase.name === "closed") return;
  if (!c.headerSent && c.role === "receiving") {
    c.headerSent = true;
    const a = peerAttrs ?? {};
    emit(c, {
      type: "send",
      data: {
        kind: "header",
        attrs: headerAttrs({ from: a.to, to: a.from, id: c.streamId ?? c.mintId(), version: c.peerVersion1 && !c.legacy }),
      },
    });
  }
  send(c, err.toElement());
  sendClose(c);
  finish(c, "us", err.condition);
}

/**
 * The bounce condition for stanzas still queued when the stream ends (RFC 6120 §8.3.3): never
 * reached the peer's stream -> remote-server-not-found (§8.3.3.14); the peer says it does not host
 * the domain (host-unknown) -> remote-server-not-found too; the peer refused us by policy
 * (policy-violation, e.g. TLS required before dialback, XEP-0220 §2.4) -> policy-violation
 * (§8.3.3.12); otherwise the peer opened a stream but dialback did not finish ->
 * remote-server-timeout (§8.3.3.15: "stream negotiation fails because of problems with TLS, SASL,
 * Server Dialback"; XEP-0238 §4.4 bounces so on the peer's not-authorized).
 */
function closingBounce(c: Ctx, by: "us" | "peer" | "transport", error: StreamErrorCondition | undefined): StanzaErrorCondition {
  if (!c.peerHeaderSeen) return "remote-server-not-found";
  if (by === "peer" && error === "host-unknown") return "remote-server-not-found";
  if (by === "peer" && error === "policy-violation") return "policy-violation";
  return "remote-server-timeout";
}

/**
 * The stream is over: nothing pending survives; queued stanzas bounce; `closed` is last.
 * `bounceAs` overrides the bounce condition when the caller knows better (a TLS failure that policy
 * does not let us work around is policy-violation, not a timeout that never happened).
 */
export function finish(c: Ctx, by: "us" | "peer" | "transport", error?: StreamErrorCondition, bounceAs?: StanzaErrorCondition): void {
  c.phase = transition(c.phase, error ? { name: "closed", by, error } : { name: "closed", by });
  const condition: StanzaErrorCondition = bounceAs ?? closingBounce(c, by, error);
  for (const [key, rec] of c.outbound) {
    if (rec.state === "keying" || rec.state === "pending") {
      const [local, remote] = splitPairKey(key);
      c.outbound.set(key, { state: "failed", condition });
      pairState(c, "outbound", local, remote, "error", { condition });
      bounceAll(c, rec.queue, condition);
    }
  }
  for (const [key, rec] of c.inbound) {
    if (rec.state === "pending") {
      const [sender, target] = splitPairKey(key);
      c.inbound.delete(key);
      pairState(c, "inbound", target, sender, "error", { condition: "remote-server-timeout" });
    }
  }
  c.inByHandle.clear();
  c.keyOps.clear();
  c.checks.clear();
  c.pending = 0;
  // XEP-0220 §2.1.2: pending verifications on a closed stream count as failed, with the §2.4
  // condition for how the authority stream failed: never reached -> remote-connection-failed; the
  // authority does not host the domain (host-unknown) -> remote-server-not-found; anything else
  // (closed without verifying) -> remote-server-timeout.
  const verifyCondition: DialbackCondition = !c.peerHeaderSeen
    ? "remote-connection-failed"
    : by === "peer" && error === "host-unknown"
      ? "remote-server-not-found"
      : "remote-server-timeout";
  for (const v of [...c.verifyByHandle.values()]) {
    dropVerify(c, v);
    emit(c, { type: "verify-result", handle: v.handle, from: v.from, to: v.to, id: v.id, outcome: { type: "error", condition: verifyCondition } });
  }
  emit(c, error ? { type: "closed", by, error } : { type: "closed", by });
}
