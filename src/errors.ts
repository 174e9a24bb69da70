// Errors split by fault, as RFC 6120 splits them: a StreamError ends the whole stream (§4.9), a
// StanzaError bounces one stanza (§8.3). Both know how to become the element the peer sees.

import { clone, Element } from "ltx";
import { NS_STANZAS, NS_STREAMS } from "./xml/namespaces.js";

// RFC 6120 §4.9.3 / §8.3.3 condition namespaces, defined with the others in src/xml/namespaces.ts.
export { NS_STANZAS, NS_STREAMS };

/** RFC 6120 §4.9.3 defined stream error conditions. */
export type StreamErrorCondition =
  | "bad-format" | "bad-namespace-prefix" | "conflict" | "connection-timeout" | "host-gone"
  | "host-unknown" | "improper-addressing" | "internal-server-error" | "invalid-from"
  | "invalid-namespace" | "invalid-xml" | "not-authorized" | "not-well-formed" | "policy-violation"
  | "remote-connection-failed" | "reset" | "resource-constraint" | "restricted-xml" | "see-other-host"
  | "system-shutdown" | "undefined-condition" | "unsupported-encoding" | "unsupported-feature"
  | "unsupported-stanza-type" | "unsupported-version";

/** RFC 6120 §8.3.3 defined stanza error conditions (the ones XEP-0220 uses are a subset). */
export type StanzaErrorCondition =
  | "bad-request" | "conflict" | "feature-not-implemented" | "forbidden" | "gone"
  | "internal-server-error" | "item-not-found" | "jid-malformed" | "not-acceptable" | "not-allowed"
  | "not-authorized" | "policy-violation" | "recipient-unavailable" | "redirect"
  | "registration-required" | "remote-server-not-found" | "remote-server-timeout"
  | "resource-constraint" | "service-unavailable" | "subscription-required" | "undefined-condition"
  | "unexpected-request";

export type StanzaErrorType = "auth" | "cancel" | "continue" | "modify" | "wait";

/** RFC 6120 §8.3.3: the error type each condition normally carries. */
export const STANZA_ERROR_TYPE: Record<StanzaErrorCondition, StanzaErrorType> = {
  "bad-request": "modify", conflict: "cancel", "feature-not-implemented": "cancel", forbidden: "auth",
  gone: "cancel", "internal-server-error": "cancel", "item-not-found": "cancel",
  "jid-malformed": "modify", "not-acceptable": "modify", "not-allowed": "cancel",
  "not-authorized": "auth", "policy-violation": "modify", "recipient-unavailable": "wait",
  redirect: "modify", "registration-required": "auth", "remote-server-not-found": "cancel",
  "remote-server-timeout": "wait", "resource-constraint": "wait", "service-unavailable": "cancel",
  "subscription-required": "auth", "undefined-condition": "cancel", "unexpected-request": "wait",
};

/** The peer broke the stream protocol; the stream must end with this condition. */
export class StreamError extends Error {
  constructor(
    readonly condition: StreamErrorCondition,
    readonly text?: string,
  ) {
    super(text ? `${condition}: ${text}` : condition);
    this.name = "StreamError";
  }

  /** RFC 6120 §4.9.2: `<stream:error><condition xmlns=streams/><text/></stream:error>`. */
  toElement(): Element {
    const el = new Element("stream:error");
    el.c(this.condition, { xmlns: NS_STREAMS });
    if (this.text) el.c("text", { xmlns: NS_STREAMS, "xml:lang": "en" }).t(this.text);
    return el;
  }
}

/** One stanza cannot be handled; it is answered (bounced) with this condition. */
export class StanzaError extends Error {
  readonly type: StanzaErrorType;
  constructor(
    readonly condition: StanzaErrorCondition,
    readonly text?: string,
    type?: StanzaErrorType,
  ) {
    super(text ? `${condition}: ${text}` : condition);
    this.name = "StanzaError";
    this.type = type ?? STANZA_ERROR_TYPE[condition];
  }

  /** RFC 6120 §8.3.2: `<error type=...><condition xmlns=stanzas/><text/></error>`. */
  toElement(by?: string): Element {
    const el = new Element("error", by ? { type: this.type, by } : { type: this.type });
    el.c(this.condition, { xmlns: NS_STANZAS });
    if (this.text) el.c("text", { xmlns: NS_STANZAS, "xml:lang": "en" }).t(this.text);
    return el;
  }
}

/**
 * RFC 6120 §8.3.1: the error reply to `stanza`: same name and id, from/to swapped, type='error',
 * the original children kept (so the sender can tell which stanza failed), plus the error.
 * Returns undefined for stanzas that must never be answered with an error (type='error' itself).
 */
export function bounce(stanza: Element, error: StanzaError, by?: string): Element | undefined {
  if (stanza.attrs.type === "error") return undefined;
  const attrs: Record<string, string> = { type: "error" };
  if (stanza.attrs.id !== undefined) attrs.id = stanza.attrs.id;
  if (stanza.attrs.to !== undefined) attrs.from = stanza.attrs.to;
  if (stanza.attrs.from !== undefined) attrs.to = stanza.attrs.from;
  if (stanza.attrs.xmlns !== undefined) attrs.xmlns = stanza.attrs.xmlns;
  const reply = new Element(stanza.name, attrs);
  for (const child of stanza.children) {
    if (typeof child !== "string" && child.name !== "error") reply.cnode(clone(child));
  }
  reply.cnode(error.toElement(by));
  return reply;
}
