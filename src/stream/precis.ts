// The two PRECIS profiles an XMPP address needs (RFC 7622 §3.3, §3.4): UsernameCaseMapped for the
// localpart and OpaqueString for the resourcepart (RFC 8265 §3.3, §4.2, over the IdentifierClass
// and FreeformClass of RFC 8264 §4). Each returns the enforced (canonical) string, or undefined when
// the input has no canonical form. Written with the engine's Unicode property escapes rather than
// derived-property tables, so the code point sets are those of the runtime's Unicode version.
// Not modelled (rare, and refusing them is the safe side): the CONTEXTJ/CONTEXTO rules (their code
// points are refused), and Old Hangul Jamo in the FreeformClass (accepted).

/** RFC 7622 §3.1: each part of an address is at most 1023 octets of UTF-8. */
const MAX_PART_BYTES = 1023;

// Common case first: ASCII that needs no mapping. IdentifierClass allows ASCII 0x21-0x7E; RFC 7622
// §3.3.1 then forbids " & ' / : < > @ in a localpart.
const ASCII_LOCAL = /^[!#-%(-.0-9;=?A-~]+$/;
const ASCII_UPPER = /[A-Z]/;
// FreeformClass allows ASCII 0x20-0x7E (ASCII7 plus U+0020, a space).
const ASCII_RESOURCE = /^[\x20-\x7e]+$/;

const FORBIDDEN_IN_LOCAL = /["&'/:<>@]/;
/** RFC 8264 §9.1 LetterDigits: Ll Lu Lo Nd Lm Mn Mc. */
const LETTER_DIGITS = /^[\p{Ll}\p{Lu}\p{Lo}\p{Nd}\p{Lm}\p{Mn}\p{Mc}]$/u;
/** RFC 8264 §4.3.1 FreeformClass valid: letters, marks, numbers, punctuation, symbols, spaces. */
const FREEFORM = /^[\p{L}\p{M}\p{N}\p{P}\p{S}\p{Zs}]$/u;
/** RFC 8264 §9.13 Ignorable: default-ignorable code points (and the join controls among them). */
const IGNORABLE = /^\p{Default_Ignorable_Code_Point}$/u;
/** RFC 8265 §3.3.1 width mapping: the Halfwidth and Fullwidth Forms block, and the ideographic space. */
const WIDE = /[\u3000\uff01-\uffee]/gu;
const NON_ASCII_SPACE = /(?!\x20)\p{Zs}/gu;
// RFC 5893 (the Bidi Rule, RFC 8265 §3.3.3): approximated by script, as JavaScript has no
// Bidi_Class property escape. Strong right-to-left letters, and strong left-to-right letters.
const RTL = /[\p{Script=Hebrew}\p{Script=Arabic}\p{Script=Syriac}\p{Script=Thaana}\p{Script=Nko}\p{Script=Samaritan}\p{Script=Mandaic}\p{Script=Adlam}]/u;
const RTL_FIRST = /^[\p{Script=Hebrew}\p{Script=Arabic}\p{Script=Syriac}\p{Script=Thaana}\p{Script=Nko}\p{Script=Samaritan}\p{Script=Mandaic}\p{Script=Adlam}]/u;
const LTR_LETTER = /(?![\p{Script=Hebrew}\p{Script=Arabic}\p{Script=Syriac}\p{Script=Thaana}\p{Script=Nko}\p{Script=Samaritan}\p{Script=Mandaic}\p{Script=Adlam}])\p{L}/u;

const utf8 = new TextEncoder();
const fits = (s: string): boolean => s.length > 0 && (s.length * 3 <= MAX_PART_BYTES || utf8.encode(s).length <= MAX_PART_BYTES);

/** RFC 8265 §3.3 UsernameCaseMapped, plus the localpart exclusions of RFC 7622 §3.3.1. */
export function localpartCanonical(input: string): string | undefined {
  if (ASCII_LOCAL.test(input)) {
    const out = ASCII_UPPER.test(input) ? input.toLowerCase() : input;
    return fits(out) ? out : undefined;
  }
  // 1. width mapping, 2. (no additional mapping), 3. case mapping, 4. NFC.
  const s = input.replace(WIDE, (ch) => ch.normalize("NFKC")).toLowerCase().normalize("NFC");
  if (!fits(s) || FORBIDDEN_IN_LOCAL.test(s)) return undefined;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0x21 && cp <= 0x7e) continue;
    // IdentifierClass: LetterDigits only, and not HasCompat (toNFKC(cp) != cp) nor Ignorable.
    if (!LETTER_DIGITS.test(ch) || IGNORABLE.test(ch) || ch.normalize("NFKC") !== ch) return undefined;
  }
  // 5. directionality: a label with right-to-left letters starts with one and has no left-to-right ones.
  if (RTL.test(s) && (!RTL_FIRST.test(s) || LTR_LETTER.test(s))) return undefined;
  return s;
}

/** RFC 8265 §4.2 OpaqueString (no case or width mapping: resources compare exactly). */
export function resourcepartCanonical(input: string): string | undefined {
  if (ASCII_RESOURCE.test(input)) return fits(input) ? input : undefined;
  // Additional mapping: non-ASCII spaces to U+0020; then NFC.
  const s = input.replace(NON_ASCII_SPACE, " ").normalize("NFC");
  if (!fits(s)) return undefined;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0x20 && cp <= 0x7e) continue;
    if (!FREEFORM.test(ch) || IGNORABLE.test(ch)) return undefined;
  }
  return s;
}
