// RFC 6120 §4.7 stream headers, §4.3 features, §5 STARTTLS, and XEP-0288 bidi negotiation, for both
// roles. The phase changes themselves are checked by ./phase.ts.

import { Element } from "ltx";
import { StreamError, type StreamErrorCondition } from "../errors.js";
import type { TlsInfo } from "../engine/ports.js";
import type { Domain, StreamId } from "../types.js";
import { featuresElement, headerAttrs, readFeatures } from "../dialback/elements.js";
import { NS_BIDI, NS_SERVER, NS_STREAM, NS_TLS } from "../xml/namespaces.js";
import { audit, emit, send, sendClose, type Ctx } from "./context.js";
import { toDomain } from "./addressing.js";
import { fail, finish } from "./ending.js";
import { requestKey } from "./originating.js";
import { offersSaslExternal } from "./sasl.js";
import { maySaslExternal, saslPairOnOpen, sendSaslAuth } from "./sasl-initiator.js";
import { sendVerify } from "./verification.js";
import { EngineUsageError, transition } from "./phase.js";

export function sendOurInitiatingHeader(c: Ctx): void {
  c.headerSent = true;
  emit(c, {
    type: "send",
    data: { kind: "header", attrs: headerAttrs({ from: c.local, to: c.remote, version: !c.legacy }) },
  });
}

// RFC 6120 §4.7 (receiving): answer the header, then offer features per policy.
export function openReceiving(c: Ctx, attrs: Record<string, string>, now: number): void {
  c.streamId = c.mintId();
  const to = attrs.to === undefined ? impliedLocal(c) : toDomain(attrs.to);
  const from = attrs.from === undefined ? undefined : toDomain(attrs.from);
  c.local = to;
  c.remote = from;
  const v1 = c.peerVersion1 && !c.legacy;
  if (attrs.xmlns !== NS_SERVER || (attrs["xmlns:stream"] !== undefined && attrs["xmlns:stream"] !== NS_STREAM)) {
    return fail(c, new StreamError("invalid-namespace", "S2S streams are jabber:server"), attrs);
  }
  if (!to || !c.policy.isHosted(to)) return fail(c, new StreamError("host-unknown"), attrs);
  if (attrs.from !== undefined && !from) return fail(c, new StreamError("invalid-from"), attrs);
  c.headerSent = true;
  emit(c, { type: "send", data: { kind: "header", attrs: headerAttrs({ from: to, to: attrs.from, id: c.streamId, version: v1 }) } });
  if (v1) {
    const pol = c.policy.forRemote(from);
    c.offeredTls = !c.secure && c.transport.canStartTls;
    const tlsRequired = c.offeredTls && pol.allowed && pol.minLevel !== "verified";
    c.offeredBidi = pol.allowed && pol.bidi;
    const sasl = offersSaslExternal(c, from);
    if (sasl) c.sasl = "offered";
    // Bidi already on (asked for before SASL, kept over its restart) is not offered again.
    send(c, featuresElement({ starttls: c.offeredTls, tlsRequired, bidi: c.offeredBidi && !c.bidi, saslExternal: sasl }));
    // XEP-0220 §2.4: "the server that generates the error SHOULD still attempt to send the dialback
    // error"; an XMPP 1.0 peer gets dialback errors, a pre-1.0 one gets RFC 3920 behaviour.
    c.peerDialbackErrors = true;
  } else {
    c.offeredTls = false;
    c.offeredBidi = false;
  }
  open(c, now);
}

/**
 * RFC 6120 §4.7.2 requires 'to' of XMPP 1.0 streams only; a pre-1.0 server (RFC 3920's predecessors,
 * XEP-0238 type 1; jabberd2 2.7 without a certificate) may send a header with no 'to', 'from' or
 * 'version' and name the domains in its db:result (XEP-0220 §2.1.1). Such a stream is taken for
 * the hosted domain the transport can only be for; a 1.0 stream without 'to' stays host-unknown.
 */
function impliedLocal(c: Ctx): Domain | undefined {
  if (c.peerVersion1) return undefined;
  const d = c.transport.impliedLocal;
  return d !== undefined && c.policy.isHosted(d) ? d : undefined;
}

export function openInitiating(c: Ctx, attrs: Record<string, string>, now: number): void {
  if (attrs.xmlns !== NS_SERVER) return fail(c, new StreamError("invalid-namespace", "S2S streams are jabber:server"));
  if (!attrs.id) return fail(c, new StreamError("undefined-condition", "stream header without id"));
  c.streamId = attrs.id as StreamId;
  if (c.peerVersion1 && !c.legacy) {
    c.phase = transition(c.phase, { name: "awaiting-features" });
  } else {
    open(c, now);
  }
}

// RFC 6120 §4.3.2 (initiating): TLS first when wanted, then bidi, then dialback.
export function onFeatures(c: Ctx, el: Element, now: number): void {
  // XEP-0238 §4.4: a pre-1.0 server "ignores the stream features".
  if (c.role === "initiating" && c.legacy) return;
  if (c.role !== "initiating" || c.phase.name !== "awaiting-features") {
    return fail(c, new StreamError("unsupported-stanza-type", "unexpected stream features"));
  }
  const f = readFeatures(el);
  c.peerDialbackErrors = f.dialbackErrors;
  const pol = c.policy.forRemote(c.remote);
  const wantsTls = c.preferTls || f.tlsRequired || (pol.allowed && pol.minLevel !== "verified");
  if (!c.secure && f.starttls && c.transport.canStartTls && wantsTls) {
    c.phase = transition(c.phase, { name: "awaiting-proceed" });
    send(c, new Element("starttls", { xmlns: NS_TLS }));
    return;
  }
  if (!c.secure && f.tlsRequired) {
    // The peer insists on TLS we cannot do (XEP-0238 "U"): leave; queued stanzas bounce.
    // The stanzas bounce with policy-violation: the peer's policy (TLS first, XEP-0220 §2.4) and
    // what we can or will do do not meet; nothing timed out.
    audit(c, "policy-refusal", `${c.remote} requires STARTTLS, which this transport cannot do`, c.local, c.remote);
    sendClose(c);
    finish(c, "us", undefined, "policy-violation");
    return;
  }
  if (f.bidi && pol.allowed && pol.bidi && !c.bidi) {
    // XEP-0288 §2.2: request bidi before SASL or dialback; the request namespace is urn:xmpp:bidi.
    send(c, new Element("bidi", { xmlns: NS_BIDI }));
    c.bidi = true;
  }
  if (pol.allowed && maySaslExternal(c, f.saslExternal)) {
    // XEP-0178 §2: authenticate with our certificate; the answer decides (./sasl-initiator.ts).
    sendSaslAuth(c);
    return;
  }
  open(c, now);
}

export function onTls(c: Ctx, local: string): void {
  const phase = c.phase.name;
  if (c.role === "receiving" && local === "starttls" && phase === "open" && c.offeredTls && !c.secure && c.inbound.size === 0 && c.outbound.size === 0) {
    send(c, new Element("proceed", { xmlns: NS_TLS }));
    c.phase = transition(c.phase, { name: "tls" });
    emit(c, { type: "start-tls" });
    return;
  }
  if (c.role === "initiating" && phase === "awaiting-proceed" && local === "proceed") {
    c.phase = transition(c.phase, { name: "tls" });
    emit(c, { type: "start-tls" });
    return;
  }
  if (c.role === "receiving" && local === "starttls") {
    // RFC 6120 §5.4.2.2: <failure/>, then close the stream.
    send(c, new Element("failure", { xmlns: NS_TLS }));
    sendClose(c);
    finish(c, "us");
    return;
  }
  if (c.role === "initiating" && phase === "awaiting-proceed" && local === "failure") {
    sendClose(c);
    finish(c, "peer");
    return;
  }
  fail(c, new StreamError("unsupported-stanza-type", `unexpected TLS element <${local}/>`));
}

// XEP-0288 §2.2: the initiator asks for bidi with <bidi xmlns='urn:xmpp:bidi'/>.
export function onBidiRequest(c: Ctx): void {
  if (c.role !== "receiving" || (!c.offeredBidi && !c.bidi)) {
    return fail(c, new StreamError("unsupported-stanza-type", "bidi was not offered"));
  }
  c.bidi = true;
  // XEP-0288 §2.2: a peer using bidi with dialback MUST support dialback errors.
  c.peerDialbackErrors = true;
}

export function open(c: Ctx, now: number): void {
  c.phase = transition(c.phase, { name: "open" });
  c.negotiationDeadline = undefined;
  // XEP-0178: the pair SASL EXTERNAL authenticated needs no dialback.
  saslPairOnOpen(c);
  for (const [key, rec] of c.outbound) if (rec.state === "keying" && rec.handle === 0) requestKey(c, key, rec);
  for (const v of c.verifyByHandle.values()) if (!v.sent) sendVerify(c, v);
  void now;
}

export function onPeerStreamError(c: Ctx, el: Element): void {
  const cond = el.children.find((c): c is Element => typeof c !== "string" && c.name !== "text");
  sendClose(c);
  finish(c, "peer", (cond?.name as StreamErrorCondition | undefined) ?? "undefined-condition");
}

/** Initiating role: send our stream header (RFC 6120 §4.7). */
export function start(c: Ctx, now: number): void {
  if (c.role !== "initiating") throw new EngineUsageError("start() is for initiating streams");
  c.phase = transition(c.phase, { name: "awaiting-header" });
  c.negotiationDeadline = now + c.timeouts.negotiation;
  sendOurInitiatingHeader(c);
}
/** The peer's stream header (`<stream:stream ...>` attributes, namespace declarations included). */
export function onHeader(c: Ctx, attrs: Record<string, string>, now: number): void {
  if (c.phase.name !== "awaiting-header") {
    if (c.phase.name !== "closed") fail(c, new StreamError("bad-format", "unexpected stream header"));
    return;
  }
  c.peerHeaderSeen = true;
  c.scope = {};
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "xmlns") c.scope[""] = v;
    else if (k.startsWith("xmlns:")) c.scope[k.slice(6)] = v;
  }
  const version = attrs.version === undefined ? 0 : Number.parseInt(attrs.version, 10);
  c.peerVersion1 = Number.isFinite(version) && version >= 1;
  if (c.role === "receiving") openReceiving(c, attrs, now);
  else openInitiating(c, attrs, now);
}
/** STARTTLS completed (RFC 6120 §5.4.3.3): the stream restarts over TLS. */
export function onTlsEstablished(c: Ctx, info: TlsInfo, now: number): void {
  if (c.phase.name !== "tls") throw new EngineUsageError(`handleTlsEstablished in phase ${c.phase.name}`);
  c.secure = true;
  c.peerCertificate = info.peerCertificate;
  c.localNames = info.localNames;
  c.phase = transition(c.phase, { name: "awaiting-header" });
  // RFC 6120 §5.4.3.3: the restart discards what the old stream negotiated; XEP-0288 §2.1: bidi
  // is negotiated after TLS.
  c.peerDialbackErrors = false;
  c.bidi = false;
  c.offeredBidi = false;
  c.offeredTls = false;
  c.negotiationDeadline = now + c.timeouts.negotiation;
  if (c.role === "initiating") sendOurInitiatingHeader(c);
}