// Character data as XML 1.0 defines it after parsing: line ends normalized (§2.11), attribute
// whitespace normalized (§3.3.3), and references replaced (§4.1). RFC 6120 §11.1 allows only the
// five predefined entities and character references; any other entity reference is restricted XML.

import { StreamError } from "../errors.js";
import { isName } from "./chars.js";

const PREDEFINED: Readonly<Record<string, string>> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

// Text needs work only if it holds a reference, a CR, or the CDATA end marker (forbidden in text).
const TEXT_SPECIAL = /[&\r]|\]\]>/;
// Attribute values also normalize TAB and LF (and may not hold '<', XML 1.0 §3.1 [10]).
const ATTR_SPECIAL = /[&<\t\n\r]/;

/** Decodes character data between tags. Throws StreamError for anything XML or RFC 6120 forbids. */
export function decodeText(raw: string): string {
  if (!TEXT_SPECIAL.test(raw)) return raw;
  // XML 1.0 §2.4: the literal ']]>' may not appear in content.
  if (raw.includes("]]>")) throw new StreamError("not-well-formed", "']]>' in character data");
  const s = raw.includes("\r") ? normalizeLineEnds(raw) : raw;
  return s.includes("&") ? replaceReferences(s) : s;
}

/** Decodes an attribute value (without its quotes). */
export function decodeAttr(raw: string): string {
  if (!ATTR_SPECIAL.test(raw)) return raw;
  if (raw.includes("<")) throw new StreamError("not-well-formed", "'<' in an attribute value");
  // §3.3.3: each literal whitespace character becomes a space; CRLF is one line end, so one space.
  const s = raw.replace(/\r\n?|[\t\n]/g, " ");
  return s.includes("&") ? replaceReferences(s) : s;
}

/** CDATA content: no references, but line ends are still normalized (§2.11 applies to all input). */
export function decodeCdata(raw: string): string {
  return raw.includes("\r") ? normalizeLineEnds(raw) : raw;
}

function normalizeLineEnds(s: string): string {
  return s.replace(/\r\n?/g, "\n");
}

function replaceReferences(s: string): string {
  let out = "";
  let from = 0;
  for (let amp = s.indexOf("&"); amp !== -1; amp = s.indexOf("&", from)) {
    const semi = s.indexOf(";", amp + 1);
    if (semi === -1) throw new StreamError("not-well-formed", "'&' that does not start a reference");
    out += s.slice(from, amp) + resolveReference(s.slice(amp + 1, semi));
    from = semi + 1;
  }
  return out + s.slice(from);
}

/** Resolves the name between '&' and ';'. Exported for stream-level text, which is never kept. */
export function resolveReference(name: string): string {
  if (name.charCodeAt(0) === 0x23 /* # */) return characterReference(name);
  const predefined = PREDEFINED[name];
  if (predefined !== undefined && Object.hasOwn(PREDEFINED, name)) return predefined;
  // A well-formed reference to an entity a DTD would have to declare: RFC 6120 §11.1 forbids it.
  if (isName(name)) throw new StreamError("restricted-xml", `entity reference '&${name};'`);
  throw new StreamError("not-well-formed", "'&' that does not start a reference");
}

/** XML 1.0 §4.1 [66]: '&#' [0-9]+ ';' or '&#x' [0-9a-fA-F]+ ';', naming a legal Char (§2.2). */
function characterReference(name: string): string {
  const hex = name.charCodeAt(1) === 0x78; /* x */
  const digits = name.slice(hex ? 2 : 1);
  if (!(hex ? /^[0-9a-fA-F]+$/ : /^[0-9]+$/).test(digits)) {
    throw new StreamError("not-well-formed", `malformed character reference '&${name};'`);
  }
  const cp = parseInt(digits, hex ? 16 : 10);
  const legal =
    cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0x10ffff);
  if (!legal) throw new StreamError("not-well-formed", `character reference to an illegal character '&${name};'`);
  return String.fromCodePoint(cp);
}
