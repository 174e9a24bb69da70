// SASL EXTERNAL for server-to-server streams, initiating side (XEP-0178 §2, RFC 6120 §6): when the
// peer offers EXTERNAL after TLS and the client certificate we presented (the gateway egress
// presents the domain's certificate; connect() presents none) names our domain, we send
//   <auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>
// ('=': no authorization identity, RFC 6120 §6.4.2; the identity is the header's 'from'). On
// <success/> both sides restart the stream (RFC 6120 §6.4.6); once the restarted stream is open the
// pair (our domain -> the peer) is valid without dialback and its queued stanzas go out. On
// <failure/> we fall back to Server Dialback on the same stream (XEP-0178 §2 / XEP-0220). Pairs for
// our other hosted domains use dialback as usual (XEP-0220 §3 sender multiplexing).
//
// States (Ctx.sasl, initiating role): none -> requested (auth sent) -> done (success, restart) or
// failed (failure: dialback). The receiving side is ./sasl.ts.

import { Element } from "ltx";
import { StreamError } from "../errors.js";
import { certificateValidFor, LEVEL_RANK } from "../engine/ports.js";
import { pairKey, validOutbound } from "../dialback/pairs.js";
import { NS_SASL } from "../xml/namespaces.js";
import { audit, levelFor, pairState, send, type Ctx } from "./context.js";
import { fail } from "./ending.js";
import { failOutbound } from "./originating.js";
import { transition } from "./phase.js";

/** XEP-0178 §2: offered EXTERNAL, over TLS, not tried yet on this stream, and our certificate names our domain. */
export function maySaslExternal(c: Ctx, offered: boolean): boolean {
  if (c.role !== "initiating" || !offered || !c.secure || c.sasl !== "none" || !c.local) return false;
  return certificateValidFor({ status: "valid", names: c.localNames ?? [] }, c.local);
}

export function sendSaslAuth(c: Ctx): void {
  send(c, new Element("auth", { xmlns: NS_SASL, mechanism: "EXTERNAL" }).t("="));
  c.sasl = "requested";
}

/** <success/> or <failure/> from the peer while our <auth/> is outstanding. */
export function onSaslResponse(c: Ctx, local: string, now: number, openStream: () => void, sendHeader: () => void): void {
  if (c.sasl !== "requested") return fail(c, new StreamError("unsupported-stanza-type", `<${local}/>: no SASL exchange in progress`));
  if (local === "success") {
    c.sasl = "done";
    // RFC 6120 §6.4.6: a new stream over the same TLS; what the old one negotiated, except TLS,
    // SASL and bidi (XEP-0288 §2.2: requested before SASL, kept), is discarded.
    c.peerDialbackErrors = false;
    c.phase = transition(c.phase, { name: "awaiting-header" });
    c.negotiationDeadline = now + c.timeouts.negotiation;
    sendHeader();
    return;
  }
  if (local === "failure") {
    // RFC 6120 §6.4.5 allows retries; XEP-0178 has nothing else to offer: dialback instead.
    c.sasl = "failed";
    audit(c, "policy-refusal", `SASL EXTERNAL as ${c.local} refused by ${c.remote}: falling back to dialback`, c.local, c.remote);
    openStream();
    return;
  }
  fail(c, new StreamError("unsupported-stanza-type", `unexpected SASL element <${local}/>`));
}

/**
 * When the stream (restarted after <success/>) is open: the pair (local, remote) is authenticated
 * by the certificate; checked against policy like a dialback result (XEP-0238 levels).
 */
export function saslPairOnOpen(c: Ctx): void {
  if (c.role !== "initiating" || c.sasl !== "done" || !c.local || !c.remote) return;
  const key = pairKey(c.local, c.remote);
  const rec = c.outbound.get(key);
  const pol = c.policy.forRemote(c.remote);
  const level = levelFor(c, c.remote);
  if (rec && (rec.state === "keying" || rec.state === "pending")) {
    if (pol.allowed && LEVEL_RANK[level] < LEVEL_RANK[pol.minLevel]) {
      failOutbound(c, key, rec.queue, "policy-violation", "error");
      return;
    }
    c.pending--;
    c.outbound.set(key, validOutbound(level));
    pairState(c, "outbound", c.local, c.remote, "valid", { level, via: "sasl-external" });
    for (const stanza of rec.queue) send(c, stanza);
  } else if (!rec) {
    c.outbound.set(key, validOutbound(level));
    pairState(c, "outbound", c.local, c.remote, "valid", { level, via: "sasl-external" });
  }
}
