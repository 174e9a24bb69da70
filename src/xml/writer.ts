// Serializing for the wire: stream header and close (RFC 6120 §4.7), and elements with escaping
// that survives a conforming parser on the other side. ltx's toString() escapes '&<>"\'' but not
// TAB/LF/CR in attribute values (a parser turns them into spaces, XML 1.0 §3.3.3) nor CR in text
// (turned into LF, §2.11), and lets characters XML cannot carry through; this writer does not.

import type { Element } from "ltx";
import { isQName } from "./chars.js";
import { NS_DIALBACK, NS_SERVER, NS_STREAM } from "./namespaces.js";

export interface StreamHeaderAttrs {
  from?: string;
  to?: string;
  id?: string;
  /** RFC 6120 §4.7.5: '1.0' unless talking to a pre-RFC 3920 server. */
  version?: string;
  "xml:lang"?: string;
  [attr: string]: string | undefined;
}

export interface StreamHeaderOptions {
  /** XEP-0220 §2.1: declare xmlns:db to offer dialback. Default true. */
  dialback?: boolean;
  contentNamespace?: string;
}

/** `<?xml version='1.0'?><stream:stream xmlns=... xmlns:stream=... xmlns:db=... ...>` (RFC 6120 §4.7). */
export function streamHeader(attrs: StreamHeaderAttrs, options: StreamHeaderOptions = {}): string {
  let out = `<?xml version='1.0'?><stream:stream xmlns='${escapeAttr(options.contentNamespace ?? NS_SERVER)}' xmlns:stream='${NS_STREAM}'`;
  if (options.dialback !== false) out += ` xmlns:db='${NS_DIALBACK}'`;
  for (const k in attrs) {
    const v = attrs[k];
    if (v === undefined || k === "xmlns" || k.startsWith("xmlns:")) continue;
    out += attribute(k, v);
  }
  return out + ">";
}

/** ` name='value'`, name checked and value escaped. */
export function attribute(name: string, value: string): string {
  return " " + checkName(name) + "='" + escapeAttr(value) + "'";
}

/** RFC 6120 §4.4: the closing tag of the stream. */
export function streamClose(): string {
  return "</stream:stream>";
}

/**
 * One element as XML text. `extraAttrs` are added to the outermost element (used by the framing
 * writer to declare namespaces without touching the caller's element).
 */
export function serialize(el: Element, extraAttrs?: Record<string, string>): string {
  const parts: string[] = [];
  write(el, parts, extraAttrs);
  return parts.join("");
}

function write(el: Element, out: string[], extra: Record<string, string> | undefined): void {
  const name = checkName(el.name);
  let tag = "<" + name;
  const attrs = el.attrs as Record<string, unknown>;
  for (const k in attrs) {
    const v = attrs[k];
    if (v === undefined || v === null) continue;
    if (extra && Object.hasOwn(extra, k)) continue;
    tag += " " + checkName(k) + "='" + escapeAttr(typeof v === "string" ? v : String(v)) + "'";
  }
  if (extra) for (const k in extra) tag += " " + checkName(k) + "='" + escapeAttr(extra[k]!) + "'";
  const children = el.children;
  if (children.length === 0) {
    out.push(tag + "/>");
    return;
  }
  out.push(tag + ">");
  for (const child of children) {
    if (child === null || child === undefined) continue;
    if (typeof child === "object") write(child, out, undefined);
    else out.push(escapeText(typeof child === "string" ? child : String(child)));
  }
  out.push("</" + name + ">");
}

const validNames = new Set<string>();

function checkName(name: string): string {
  if (validNames.has(name)) return name;
  if (!isQName(name)) throw new TypeError(`cannot serialize: '${name}' is not an XML name`);
  if (validNames.size < 4096) validNames.add(name);
  return name;
}

const TEXT_SPECIAL = /[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]/;
const ATTR_SPECIAL = /[&<>"'\t\n\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]/;

/** Escapes character data: & < > always ('>' so ']]>' cannot appear), CR as &#13; (XML 1.0 §2.11). */
export function escapeText(s: string): string {
  return TEXT_SPECIAL.test(s) ? escapeSlow(s, false) : s;
}

/** Escapes an attribute value for either quote; TAB/LF/CR as references so they survive §3.3.3. */
export function escapeAttr(s: string): string {
  return ATTR_SPECIAL.test(s) ? escapeSlow(s, true) : s;
}

function escapeSlow(s: string, attr: boolean): string {
  let out = "";
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let rep: string | undefined;
    if (c === 0x26) rep = "&amp;";
    else if (c === 0x3c) rep = "&lt;";
    else if (c === 0x3e) rep = "&gt;";
    else if (c === 0x0d) rep = "&#13;";
    else if (attr && c === 0x22) rep = "&quot;";
    else if (attr && c === 0x27) rep = "&apos;";
    else if (attr && c === 0x0a) rep = "&#10;";
    else if (attr && c === 0x09) rep = "&#9;";
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++;
        continue;
      }
      throw illegal(c);
    } else if ((c < 0x20 && c !== 0x09 && c !== 0x0a) || (c >= 0xd800 && c <= 0xdfff) || c === 0xfffe || c === 0xffff) {
      throw illegal(c);
    }
    if (rep !== undefined) {
      out += s.slice(from, i) + rep;
      from = i + 1;
    }
  }
  return out + s.slice(from);
}

function illegal(c: number): TypeError {
  // XML 1.0 §2.2: such a character cannot be sent at all, escaped or not.
  return new TypeError(`cannot serialize: U+${c.toString(16).toUpperCase().padStart(4, "0")} is not allowed in XML`);
}
