// A receiving stream whose every domain-pair claim was refused, and which holds no pair (pending or
// verified, either direction), is closed after `timeouts.unpaired` (issue 10 item 3). XEP-0220 §2.4
// lets a stream outlive a dialback error so the peer can use its other pairs or try another one;
// a stream with none left and nothing asked for a while is only holding a slot (300 such streams
// claiming a victim's domain were kept open for as long as their peer wished). Bounded as Prosody and
// ejabberd bound unauthenticated s2s streams: policy-violation (RFC 6120 §4.9.3.15, local policy).

import { StreamError } from "../errors.js";
import { audit, pairCount, type Ctx } from "./context.js";
import { fail } from "./ending.js";

/** After every input: arm the deadline when the stream has become pairless after a refusal, disarm it otherwise. */
export function settleUnpaired(c: Ctx, now: number): void {
  const unpaired = c.role === "receiving" && c.phase.name === "open" && c.refusedClaims > 0 && pairCount(c) === 0;
  if (unpaired && c.unpairedDeadline === undefined) {
    c.unpairedDeadline = now + c.timeouts.unpaired;
    c.quietChanges++;
  } else if (!unpaired && c.unpairedDeadline !== undefined) {
    c.unpairedDeadline = undefined;
    c.quietChanges++;
  }
}

/** At the deadline: still nothing on the stream, so it ends. */
export function unpairedTimeout(c: Ctx, now: number): void {
  if (c.unpairedDeadline === undefined || now < c.unpairedDeadline || c.phase.name === "closed") return;
  if (pairCount(c) > 0) {
    c.unpairedDeadline = undefined;
    return;
  }
  const text = `${c.refusedClaims} domain pair claim(s) refused and no pair left on this stream`;
  audit(c, "policy-refusal", text, c.local, c.remote);
  fail(c, new StreamError("policy-violation", text));
}
