// Reading and writing the dialback elements (XEP-0220 §6 schema) and the few stream-level elements the
// engine exchanges. Names follow the specs; prefixes are those our stream header declares.

import { Element } from "ltx";
import { STANZA_ERROR_TYPE, type StanzaErrorCondition } from "../errors.js";
import type { Domain } from "../types.js";
import {
  NS_DIALBACK,
  NS_FEATURE_BIDI,
  NS_FEATURE_DIALBACK,
  NS_SERVER,
  NS_STANZAS,
  NS_STREAM,
  NS_TLS,
  NS_SASL,
} from "../xml/namespaces.js";

export type DialbackType = "valid" | "invalid" | "error";

/**
 * XEP-0220 §2.4 dialback error conditions: RFC 6120 stanza error conditions plus
 * <remote-connection-failed/> (a stream error condition in RFC 6120, used here in the stanzas
 * namespace as the XEP's table does).
 */
export type DialbackCondition = StanzaErrorCondition | "remote-connection-failed";

const errorTypeOf = (c: DialbackCondition) => (c === "remote-connection-failed" ? "cancel" : STANZA_ERROR_TYPE[c]);

/** A parsed `<db:result/>` or `<db:verify/>`; attributes raw (not yet normalised). */
export interface DialbackElement {
  kind: "result" | "verify";
  from: string | undefined;
  to: string | undefined;
  id: string | undefined;
  /** undefined: a request; otherwise a response (XEP-0220 §2.1 vs §2.2). */
  type: DialbackType | "bogus" | undefined;
  /** The key (character data), trimmed. */
  key: string;
  /** For type='error': the stanza error condition inside `<error/>`. */
  condition: DialbackCondition | undefined;
}

/** Splits `prefix:local`. */
export function splitName(name: string): { prefix: string | undefined; local: string } {
  const i = name.indexOf(":");
  return i < 0 ? { prefix: undefined, local: name } : { prefix: name.slice(0, i), local: name.slice(i + 1) };
}

/**
 * The namespace of a top-level element: its own xmlns (or xmlns:prefix), else what the stream
 * header declared for its prefix (`scope`), else the stream default (jabber:server).
 */
export function namespaceOf(el: Element, scope: Readonly<Record<string, string>>): string {
  const { prefix } = splitName(el.name);
  if (prefix === undefined) return el.attrs.xmlns ?? scope[""] ?? NS_SERVER;
  return el.attrs[`xmlns:${prefix}`] ?? scope[prefix] ?? "";
}

export function readDialback(el: Element, kind: "result" | "verify"): DialbackElement {
  const t = el.attrs.type as string | undefined;
  const type = t === undefined ? undefined : t === "valid" || t === "invalid" || t === "error" ? t : "bogus";
  let condition: DialbackCondition | undefined;
  if (type === "error") {
    const error = el.getChild("error");
    const cond = error?.children.find((c): c is Element => typeof c !== "string");
    const name = cond?.name ?? "undefined-condition";
    condition = name in STANZA_ERROR_TYPE || name === "remote-connection-failed" ? (name as DialbackCondition) : "undefined-condition";
  }
  return {
    kind,
    from: el.attrs.from,
    to: el.attrs.to,
    id: el.attrs.id,
    type,
    key: el.getText().trim(),
    condition,
  };
}

interface DbAttrs {
  from: Domain;
  to: Domain;
  id?: string;
  type?: DialbackType;
  key?: string;
  condition?: DialbackCondition;
}

function build(name: "db:result" | "db:verify", a: DbAttrs): Element {
  const attrs: Record<string, string> = { from: a.from, to: a.to };
  if (a.id !== undefined) attrs.id = a.id;
  if (a.type !== undefined) attrs.type = a.type;
  const el = new Element(name, attrs);
  if (a.key !== undefined) el.t(a.key);
  if (a.type === "error" && a.condition) {
    // XEP-0220 §2.4: <error/> (jabber:server) holding a stanza error condition.
    el.c("error", { type: errorTypeOf(a.condition) }).c(a.condition, { xmlns: NS_STANZAS });
  }
  return el;
}

export const dbResult = (a: Omit<DbAttrs, "id">): Element => build("db:result", a);
export const dbVerify = (a: DbAttrs & { id: string }): Element => build("db:verify", a);

/** RFC 6120 §4.7: our stream header attributes. */
export function headerAttrs(a: { from?: string; to?: string; id?: string; version: boolean }): Record<string, string> {
  const attrs: Record<string, string> = {
    xmlns: NS_SERVER,
    "xmlns:db": NS_DIALBACK,
    "xmlns:stream": NS_STREAM,
  };
  if (a.from) attrs.from = a.from;
  if (a.to) attrs.to = a.to;
  if (a.id) attrs.id = a.id;
  if (a.version) attrs.version = "1.0";
  return attrs;
}

/** RFC 6120 §4.3.2 features as the Receiving Server offers them. */
export function featuresElement(f: { starttls: boolean; tlsRequired: boolean; bidi: boolean; saslExternal?: boolean }): Element {
  const el = new Element("stream:features");
  if (f.starttls) {
    const tls = el.c("starttls", { xmlns: NS_TLS });
    if (f.tlsRequired) tls.c("required");
  }
  // RFC 6120 §6.3.3 / XEP-0178 §2: SASL EXTERNAL for a peer with a valid certificate.
  if (f.saslExternal) el.c("mechanisms", { xmlns: NS_SASL }).c("mechanism").t("EXTERNAL");
  // XEP-0220 §3.2: we handle dialback errors gracefully, and say so.
  el.c("dialback", { xmlns: NS_FEATURE_DIALBACK }).c("errors");
  if (f.bidi) el.c("bidi", { xmlns: NS_FEATURE_BIDI });
  return el;
}

/** What the peer's `<stream:features/>` offers (initiating role). */
export interface OfferedFeatures {
  starttls: boolean;
  tlsRequired: boolean;
  dialback: boolean;
  dialbackErrors: boolean;
  bidi: boolean;
  /** SASL EXTERNAL among the offered mechanisms (RFC 6120 §6.4.1, XEP-0178). */
  saslExternal: boolean;
}

export function readFeatures(el: Element): OfferedFeatures {
  const out: OfferedFeatures = { starttls: false, tlsRequired: false, dialback: false, dialbackErrors: false, bidi: false, saslExternal: false };
  for (const c of el.children) {
    if (typeof c === "string") continue;
    const ns = c.attrs.xmlns;
    if (c.name === "starttls" && ns === NS_TLS) {
      out.starttls = true;
      out.tlsRequired = c.getChild("required") !== undefined;
    } else if (c.name === "dialback" && ns === NS_FEATURE_DIALBACK) {
      out.dialback = true;
      out.dialbackErrors = c.getChild("errors") !== undefined;
    } else if (c.name === "bidi" && ns === NS_FEATURE_BIDI) {
      // Strictly the feature namespace; <bidi xmlns='urn:xmpp:bidi'/> here is not an offer.
      out.bidi = true;
    } else if (c.name === "mechanisms" && ns === NS_SASL) {
      out.saslExternal = c.getChildren("mechanism").some((m) => m.getText().trim() === "EXTERNAL");
    }
  }
  return out;
}

/** Domainpart of a JID (RFC 7622 §3.2): strip the resource at the first '/', then the localpart. */
export function jidDomainpart(jid: string): string {
  const slash = jid.indexOf("/");
  const bare = slash < 0 ? jid : jid.slice(0, slash);
  const at = bare.indexOf("@");
  return at < 0 ? bare : bare.slice(at + 1);
}
