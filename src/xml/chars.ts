// Character classes of XML 1.0 (Fifth Edition) §2.2 and §2.3, and UTF-8 byte counting. Kept apart
// from the lexer so the lexer reads as a state machine and this file as a table.

/**
 * Anything outside printable ASCII plus TAB/LF/CR. A chunk that does not match is plain ASCII with
 * only legal characters, so its UTF-8 length is its length and no further character check is due.
 */
export const NOT_PLAIN_ASCII = /[^\t\n\r\x20-\x7e]/;

/** XML 1.0 §2.2 Char excludes C0 controls other than TAB/LF/CR, U+FFFE and U+FFFF... */
export const ILLEGAL_CHAR = /[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/;

/**
 * ...and unpaired surrogates. Bytes come through a fatal TextDecoder, which cannot produce them;
 * strings handed in directly can (callers hold back a trailing high surrogate until its pair comes).
 */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

const isWellFormed: (s: string) => boolean =
  typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed === "function"
    ? (s) => (s as unknown as { isWellFormed(): boolean }).isWellFormed()
    : (s) => !LONE_SURROGATE.test(s);

/**
 * Index of the first character XML does not allow in `s`, or -1. `paired`: the text came from a
 * UTF-8 decoder, so surrogates are known to be paired and that (costlier) check is skipped.
 */
export function firstIllegalChar(s: string, paired: boolean): number {
  const m = ILLEGAL_CHAR.exec(s);
  let at = m ? m.index : -1;
  // isWellFormed() is a fast native scan; the slow regex only runs to locate a known offender.
  if (!paired && !isWellFormed(at === -1 ? s : s.slice(0, at))) at = LONE_SURROGATE.exec(s)!.index;
  return at;
}

/** XML 1.0 §2.3 S: the four whitespace characters. */
export function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;
}

// ASCII lookup: 1 = NameStartChar, 2 = NameChar only (digits, '-', '.'), 0 = neither.
const ASCII_NAME = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z_:]/.test(ch)) ASCII_NAME[c] = 1;
  else if (/[0-9.-]/.test(ch)) ASCII_NAME[c] = 2;
}

/** XML 1.0 §2.3 NameStartChar, by UTF-16 code unit (surrogates accepted: pairing is checked elsewhere). */
export function isNameStart(c: number): boolean {
  if (c < 128) return ASCII_NAME[c] === 1;
  return (
    (c >= 0xc0 && c <= 0xd6) || (c >= 0xd8 && c <= 0xf6) || (c >= 0xf8 && c <= 0x2ff) ||
    (c >= 0x370 && c <= 0x37d) || (c >= 0x37f && c <= 0x1fff) || c === 0x200c || c === 0x200d ||
    (c >= 0x2070 && c <= 0x218f) || (c >= 0x2c00 && c <= 0x2fef) || (c >= 0x3001 && c <= 0xd7ff) ||
    // U+10000..U+EFFFF arrive as surrogate pairs.
    (c >= 0xd800 && c <= 0xdfff) || (c >= 0xf900 && c <= 0xfdcf) || (c >= 0xfdf0 && c <= 0xfffd)
  );
}

/** XML 1.0 §2.3 NameChar. */
export function isNameChar(c: number): boolean {
  if (c < 128) return ASCII_NAME[c] !== 0;
  return c === 0xb7 || (c >= 0x300 && c <= 0x36f) || c === 0x203f || c === 0x2040 || isNameStart(c);
}

/** True when `s` is an XML Name (XML 1.0 §2.3 production [5]). */
export function isName(s: string): boolean {
  if (s.length === 0 || !isNameStart(s.charCodeAt(0))) return false;
  for (let i = 1; i < s.length; i++) if (!isNameChar(s.charCodeAt(i))) return false;
  return true;
}

/** True when `s` is a QName of Namespaces in XML 1.0 §4: NCName or NCName ':' NCName. */
export function isQName(s: string): boolean {
  const colon = s.indexOf(":");
  if (colon === -1) return isName(s);
  return (
    colon > 0 && colon < s.length - 1 && s.indexOf(":", colon + 1) === -1 && isName(s.slice(0, colon)) &&
    isName(s.slice(colon + 1))
  );
}

/** UTF-8 length of s[from, to): what the peer sent on the wire for those characters. */
export function utf8Length(s: string, from: number, to: number): number {
  let n = to - from;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    // Two bytes below U+0800, three above; a surrogate pair is four bytes, so two per half.
    if (c >= 0x80) n += c < 0x800 || (c >= 0xd800 && c <= 0xdfff) ? 1 : 2;
  }
  return n;
}
