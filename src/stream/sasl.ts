// SASL EXTERNAL for server-to-server streams (RFC 6120 §6, XEP-0178 §2), receiving role only: a peer
// whose TLS client certificate is CA-valid for the domain in its stream header is offered EXTERNAL;
// `<auth mechanism='EXTERNAL'/>` then authenticates that domain to the domain it addressed, with no
// dialback, and the stream restarts (§6.4.6). Further pairs on the restarted stream use dialback as
// usual. The edge never authenticates with SASL itself: connect() has no client certificate.
//
// On the gateway path the certificate is the one the gateway verified (X-Edge-Connection
// certIdentities), so this works for TCP peers exactly as for any TLS peer.

import { Element } from "ltx";
import { StreamError } from "../errors.js";
import type { Domain } from "../types.js";
import { certificateValidFor } from "../engine/ports.js";
import { pairKey, validInbound } from "../dialback/pairs.js";
import { NS_SASL } from "../xml/namespaces.js";
import { audit, pairState, send, type Ctx } from "./context.js";
import { toDomain } from "./addressing.js";
import { fail } from "./ending.js";
import { transition } from "./phase.js";

/** RFC 6120 §6.5 conditions this side sends. */
type SaslFailure = "aborted" | "incorrect-encoding" | "invalid-authzid" | "invalid-mechanism" | "malformed-request" | "not-authorized";

/**
 * Whether the features after this header offer EXTERNAL: receiving, over TLS, not yet done, and the
 * certificate is valid for the header's `from` (XEP-0178 §2: offered only when it can succeed) and
 * policy lets that domain in at all.
 */
export function offersSaslExternal(c: Ctx, from: Domain | undefined): boolean {
  if (c.role !== "receiving" || !c.secure || c.sasl !== "none" || !from) return false;
  return certificateValidFor(c.peerCertificate, from) && c.policy.forRemote(from).allowed;
}

/** An element in the SASL namespace from the peer (phase "open"). */
export function onSasl(c: Ctx, el: Element, local: string, now: number): void {
  if (c.role !== "receiving" || c.sasl !== "offered") {
    // RFC 6120 §4.9.3.24: not offered, so not part of this stream's protocol.
    return fail(c, new StreamError("unsupported-stanza-type", `<${local}/>: SASL was not offered`));
  }
  if (local === "abort") return failure(c, "aborted");
  if (local !== "auth") return fail(c, new StreamError("unsupported-stanza-type", `unexpected SASL element <${local}/>`));
  if (el.attrs.mechanism !== "EXTERNAL") return failure(c, "invalid-mechanism");
  // RFC 6120 §6.4.2: the initial response is base64 of the authorization identity, or '=' for none.
  const text = el.getText().trim();
  let authzid: string | undefined;
  if (text !== "" && text !== "=") {
    let decoded: string;
    try {
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) throw new Error("not base64");
      decoded = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0)));
    } catch {
      return failure(c, "incorrect-encoding");
    }
    authzid = decoded;
  }
  // XEP-0178 §2: the identity is the header's 'from'; an authzid, if any, must name the same domain.
  const identity = authzid !== undefined ? toDomain(authzid) : c.remote;
  if (!identity || (c.remote !== undefined && identity !== c.remote)) return failure(c, "invalid-authzid");
  const local_ = c.local;
  if (!local_) return failure(c, "malformed-request");
  if (!certificateValidFor(c.peerCertificate, identity)) {
    audit(c, "policy-refusal", `SASL EXTERNAL for ${identity}: the certificate does not name it`, local_, identity);
    return failure(c, "not-authorized");
  }
  const pol = c.policy.forRemote(identity);
  if (!pol.allowed) {
    audit(c, "policy-refusal", `SASL EXTERNAL for ${identity} refused by policy${pol.reason ? `: ${pol.reason}` : ""}`, local_, identity);
    return failure(c, "not-authorized");
  }
  send(c, new Element("success", { xmlns: NS_SASL }));
  c.sasl = "done";
  c.remote = identity;
  // A CA-valid certificate for the domain: XEP-0238 "trusted".
  c.inbound.set(pairKey(identity, local_), validInbound("trusted"));
  pairState(c, "inbound", local_, identity, "valid", { level: "trusted", via: "sasl-external" });
  // RFC 6120 §6.4.6: both sides start a new stream; TLS and the authentication stay, and so does
  // bidi if the peer asked for it first (XEP-0288 §2.2: <bidi/> "SHOULD be done before either SASL
  // negotiation or Server Dialback"; its SASL example offers no features after the restart).
  c.phase = transition(c.phase, { name: "awaiting-header" });
  c.negotiationDeadline = now + c.timeouts.negotiation;
}

/** RFC 6120 §6.4.5: "a reasonable number of retries (at least 2 and no more than 5)". */
export const MAX_SASL_FAILURES = 5;

// RFC 6120 §6.4.5: <failure/>; the stream stays, and the peer may retry or fall back to dialback.
// One attempt too many ends the stream with policy-violation instead.
function failure(c: Ctx, condition: SaslFailure): void {
  if (++c.saslFailures > MAX_SASL_FAILURES) {
    return fail(c, new StreamError("policy-violation", `more than ${MAX_SASL_FAILURES} failed SASL attempts`));
  }
  send(c, new Element("failure", { xmlns: NS_SASL }).c(condition).root());
}
