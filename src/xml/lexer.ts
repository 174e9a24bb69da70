// Theory of operation
// -------------------
// XmlLexer turns decoded text, arriving in chunks cut anywhere, into tags and character data, and is
// where RFC 6120 §11 restricted XML and the resource limits are enforced. It is a resumable state
// machine in the style of ltx's SaxLtx (ltx/lib/parsers/ltx.js): one pass over each chunk, indexOf()
// to skip runs of text and attribute values. It does not wrap SaxLtx because SaxLtx silently skips
// comments, processing instructions and DTDs, accepts unquoted and duplicate attributes, and buffers
// an unterminated token without bound; catching those in front of it would mean lexing everything
// twice. What it shares with ltx is the result: the builder (tree.ts) makes ltx Elements.
//
// Chunk independence: every piece of a token that reaches the end of a chunk is appended to `acc`
// and never looked at again until the token completes, so a token costs O(its length) however it is
// cut (no re-scanning, no flattening of a growing string per chunk). The few places that need to see
// across a cut (']]>' ending CDATA, '?>' ending the XML declaration, '<!' keywords) keep the last
// characters or a small buffer. Errors are raised at the character that makes the input bad, and
// the byte limit is checked at the exact byte that crosses it, so the events before an error are the
// same for every chunking.
//
// Units and limits: a "unit" is the stream header (with anything before it) or one top-level element
// of the stream (a stanza, db:result, stream:features...), or in document mode the whole document.
// A unit may span at most `maxStanzaBytes` bytes of UTF-8 (RFC 6120 §13.12; counted in budget.ts)
// and nest `maxDepth` elements; everything the lexer and the builder hold belongs to the current
// unit, so memory is bounded by the limits. Whitespace between stanzas is scanned and dropped.
// Each element may carry `maxAttributes` attributes, `maxNamespaceDeclarations` of them namespace
// declarations; both are checked when the offending attribute's name ends, before its value is read.
//
// Linear time: every check is O(1) per character or per attribute, whatever the shape of the input
// (issue 10: a check comparing each attribute with every earlier one let 20,000 attributes cost
// 1.3 s). Attribute names are compared with a short list while an element has few of them (the
// common case, where a Set costs more than it saves) and with a Set beyond that.
//
// Speed: text runs and attribute values are found with indexOf, and plain.ts says whether they need
// decoding at all (most do not), so the common path makes no regex call per token. Characters XML
// forbids are found with one regex per chunk (chars.ts), only for chunks that are not plain ASCII.
//
// Modes: "stream" for RFC 6120 TCP streams (the root element is the stream header, its children are
// the units, its end tag ends the stream); "document" for RFC 7395 WebSocket frames (one element).

import { StreamError } from "../errors.js";
import { firstIllegalChar, isNameChar, isNameStart, isSpace, NOT_PLAIN_ASCII } from "./chars.js";
import { UnitBudget } from "./budget.js";
import { checkXmlDecl } from "./declaration.js";
import { decodeAttr, decodeCdata, decodeText, resolveReference } from "./entities.js";
import { DEFAULT_MAX_ATTRIBUTES, DEFAULT_MAX_NAMESPACE_DECLARATIONS, type ReaderLimits } from "./limits.js";
import { PlainScanner } from "./plain.js";

/** Receives tags and character data. `depth` is 0 for the root element. May throw StreamError. */
export interface LexerSink {
  /** `special`: the attribute names that are namespace declarations or prefixed, if any. */
  startTag(name: string, attrs: Record<string, string>, special: readonly string[] | null, depth: number): void;
  endTag(name: string, depth: number): void;
  /** Character data inside an element below the stream level; never empty. */
  text(text: string): void;
}

export type LexerMode = "stream" | "document";

const enum S {
  Text, // between tags
  Lt, // after '<'
  StartName, // element name of a start tag
  InTag, // inside a start tag, between attributes
  AttrName,
  AttrEq, // after an attribute name, before '='
  AttrQuote, // after '=', before the opening quote
  AttrValue,
  EmptyTag, // after '/' in a start tag
  EndName, // element name of an end tag
  EndTag, // after the end tag's name, before '>'
  Bang, // after '<!'
  Cdata,
  Decl, // inside the XML declaration
  StreamRef, // an entity reference at stream level (never kept, only classified)
  Done, // stream closed: further input is ignored
}

const CDATA_OPEN = "[CDATA[";
// Markup declarations only exist in a DTD; RFC 6120 §11.1 forbids the DTD and so all of these.
const DTD_KEYWORDS = ["DOCTYPE", "ENTITY", "ELEMENT", "ATTLIST", "NOTATION"];
const MAX_DECL = 256;
const MAX_STREAM_REF = 32;
// Attribute names per element compared by scanning a list; beyond, by a Set.
const LINEAR_NAMES = 16;

const nwf = (text: string) => new StreamError("not-well-formed", text);

export class XmlLexer {
  #state = S.Text;
  #rec = false; // whether the current token's characters are being kept
  #acc = ""; // characters of the current token from earlier chunks (or earlier steps)
  #name = ""; // element name of the tag being read
  #attrs: Record<string, string> = {};
  #attrName = "";
  #quote = 0;
  #spaced = true; // whitespace seen since the last attribute value
  #bang = "";
  #tail = ""; // last two characters of CDATA or the declaration, to see ']]>' / '?>' across cuts
  #ltAtStart = false;
  #atStart = true;
  #stack: string[] = [];
  #rootSeen = false;
  #ascii = true; // the current chunk is printable ASCII (one byte per character)
  readonly #budget: UnitBudget;
  readonly #plain = new PlainScanner();
  #attrNames: string[] = []; // this tag's first LINEAR_NAMES attribute names
  readonly #attrSet = new Set<string>(); // all of them, once there are more
  #attrCount = 0;
  #nsDeclCount = 0;
  #special: string[] | null = null; // attribute names that are namespace declarations or prefixed
  // Source text of the current top-level unit (keepUnitSource): pieces from earlier chunks, and
  // where it starts in the current chunk (-1: not capturing). #chunk/#at: the chunk being lexed and
  // the position just past the '>' that ended the last tag.
  #keepSource = false;
  #srcParts: string[] = [];
  #srcStart = -1;
  #chunk = "";
  #at = 0;
  readonly #maxAttributes: number;
  readonly #maxNsDecls: number;

  constructor(
    private readonly mode: LexerMode,
    private readonly limits: ReaderLimits,
    private readonly sink: LexerSink,
  ) {
    this.#budget = new UnitBudget(limits.maxStanzaBytes);
    this.#maxAttributes = limits.maxAttributes ?? DEFAULT_MAX_ATTRIBUTES;
    this.#maxNsDecls = limits.maxNamespaceDeclarations ?? DEFAULT_MAX_NAMESPACE_DECLARATIONS;
    this.reset();
  }

  /**
   * Stream mode: keep the source text of each top-level element, from its '<' to the '>' ending it,
   * exactly as written (for a TCP stream it is the peer's bytes once encoded as UTF-8). Read it with
   * unitSource() while the sink handles the element's end. Costs one slice per element, plus one per
   * chunk an element spans; bounded by maxStanzaBytes like everything else the unit holds.
   */
  keepUnitSource(): void {
    this.#keepSource = true;
  }

  /** The source text of the top-level element that has just ended (see keepUnitSource). */
  unitSource(): string {
    if (this.#srcStart < 0) return "";
    const last = this.#chunk.slice(this.#srcStart, this.#at);
    return this.#srcParts.length === 0 ? last : this.#srcParts.join("") + last;
  }

  /** Forgets everything: the next character is the start of a new document (RFC 6120 §4.3.3 restart). */
  reset(): void {
    this.#srcParts = [];
    this.#srcStart = -1;
    this.#state = S.Text;
    this.#rec = false;
    this.#acc = "";
    this.#attrs = {};
    this.#attrSet.clear();
    this.#stack = [];
    this.#rootSeen = false;
    this.#atStart = true;
    // The stream header (and whatever precedes it) is the first unit; a frame is one unit.
    this.#budget.start(0);
  }

  /** True once the root element has ended. */
  get finished(): boolean {
    return this.#rootSeen && this.#stack.length === 0;
  }

  /** Stream mode: the header is open and no unit is partly read (only whitespace since the last one). */
  get betweenUnits(): boolean {
    return this.#state === S.Text && this.#rootSeen && this.#stack.length === 1 && !this.#rec;
  }

  /** Elements open right now (the stream header counts). */
  get depth(): number {
    return this.#stack.length;
  }

  /**
   * Lexes one chunk of decoded text. Throws StreamError at the first bad character. `decoded`: the
   * text came out of a TextDecoder (so it holds no unpaired surrogates).
   */
  write(s: string, decoded = false): void {
    if (this.#state === S.Done) return;
    let len = s.length;
    let illegal = false;
    this.#ascii = !NOT_PLAIN_ASCII.test(s);
    if (!this.#ascii) {
      const bad = firstIllegalChar(s, decoded);
      if (bad !== -1) {
        // Everything before the bad character is processed first, as it would be in smaller chunks.
        len = bad;
        illegal = true;
      }
    }
    this.#plain.reset(s);
    this.#chunk = s;
    let pos = 0;
    while (pos < len && (this.#state as S) !== S.Done) {
      let end = len;
      if (this.#budget.active) end = this.#budget.end(s, pos, len, this.#ascii);
      pos = this.#step(s, pos, end);
    }
    if (illegal && (this.#state as S) !== S.Done) {
      throw nwf(`character U+${s.charCodeAt(len).toString(16).toUpperCase().padStart(4, "0")} is not allowed in XML`);
    }
    this.#budget.chunkDone(s, this.#ascii);
    if (this.#srcStart >= 0) {
      // The unit goes on in the next chunk.
      this.#srcParts.push(s.slice(this.#srcStart));
      this.#srcStart = 0;
    }
  }

  /** Runs the state machine over s[pos, end); returns where it stopped (end, or a unit boundary). */
  #step(s: string, pos: number, end: number): number {
    let mark = pos; // start of the kept part of the current token within s
    // The state lives in a local while the loop runs (cheaper than a field on every character).
    let state = this.#state;
    try {
      while (pos < end) {
        switch (state) {
          case S.Text: {
            if (this.#inContent()) {
              const lt = s.indexOf("<", pos);
              if (lt === -1 || lt >= end) {
                if (!this.#rec) {
                  this.#rec = true;
                  mark = pos;
                }
                pos = end;
                break;
              }
              let raw: string;
              let plain = false;
              if (this.#rec) raw = this.#acc + s.slice(mark, lt);
              else {
                raw = s.slice(pos, lt);
                plain = this.#plain.text(pos, lt);
              }
              this.#rec = false;
              this.#acc = "";
              if (raw.length > 0) this.sink.text(plain ? raw : decodeText(raw));
              state = S.Lt;
              this.#ltAtStart = false;
              pos = lt + 1;
              break;
            }
            // Outside any stanza only whitespace may appear (XML 1.0 §2.8 Misc; RFC 6120 §4.6.1
            // whitespace keepalives). It is dropped as it is read.
            const c = s.charCodeAt(pos);
            if (isSpace(c)) {
              this.#atStart = false;
              pos++;
            } else if (c === 0x3c /* < */) {
              const atStart = this.#atStart;
              this.#atStart = false;
              this.#ltAtStart = atStart;
              if (this.#rootSeen && this.mode === "stream") {
                // A new top-level element (or the stream's end tag) starts a unit here.
                this.#budget.start(pos);
                if (this.#keepSource) this.#srcStart = pos;
                state = S.Lt;
                return pos + 1;
              }
              if (this.#rootSeen) throw nwf("content after the document element");
              state = S.Lt;
              pos++;
            } else if (c === 0xfeff && this.#atStart) {
              pos++; // a byte order mark handed in as text
            } else if (this.#rootSeen && this.mode === "stream" && c === 0x26 /* & */) {
              this.#bang = "";
              state = S.StreamRef;
              pos++;
            } else if (this.#rootSeen && this.mode === "stream") {
              throw new StreamError("bad-format", "character data between top-level elements");
            } else {
              throw nwf(this.#rootSeen ? "content after the document element" : "content before the root element");
            }
            break;
          }

          case S.Lt: {
            const c = s.charCodeAt(pos);
            if (c === 0x2f /* / */) {
              state = S.EndName;
              this.#rec = true;
              mark = pos + 1;
            } else if (c === 0x21 /* ! */) {
              state = S.Bang;
              this.#bang = "";
            } else if (c === 0x3f /* ? */) {
              // XML 1.0 §2.8: only the XML declaration, and only as the very first thing.
              if (!this.#ltAtStart) throw new StreamError("restricted-xml", "processing instruction");
              state = S.Decl;
              this.#tail = "";
              this.#rec = true;
              mark = pos + 1;
            } else if (isNameStart(c)) {
              state = S.StartName;
              this.#rec = true;
              mark = pos;
              this.#attrs = {};
              this.#attrCount = 0;
              this.#nsDeclCount = 0;
              this.#special = null;
            } else {
              throw nwf("'<' not followed by a name");
            }
            pos++;
            break;
          }

          case S.StartName:
          case S.EndName:
          case S.AttrName: {
            while (pos < end && isNameChar(s.charCodeAt(pos))) pos++;
            if (pos === end) break;
            const name = this.#acc + s.slice(mark, pos);
            this.#acc = "";
            this.#rec = false;
            const c = s.charCodeAt(pos);
            if (state === S.AttrName) {
              this.#attrName = name;
              this.#addAttrName(name);
              if (c === 0x3d /* = */) state = S.AttrQuote;
              else if (isSpace(c)) state = S.AttrEq;
              else throw nwf(`attribute '${name}' without a value`);
              pos++;
            } else if (state === S.StartName) {
              this.#name = name;
              this.#spaced = true;
              state = S.InTag; // the delimiter is handled there
            } else {
              this.#name = name;
              state = S.EndTag;
            }
            break;
          }

          case S.InTag: {
            const c = s.charCodeAt(pos);
            if (isSpace(c)) {
              this.#spaced = true;
              pos++;
            } else if (c === 0x3e /* > */) {
              pos++;
              this.#at = pos;
              const ended = this.#startTag(false);
              state = this.#state;
              if (ended) return pos;
            } else if (c === 0x2f /* / */) {
              state = S.EmptyTag;
              pos++;
            } else if (isNameStart(c)) {
              // XML 1.0 §3.1 [40]: attributes are separated by whitespace.
              if (!this.#spaced) throw nwf("attributes not separated by whitespace");
              state = S.AttrName;
              this.#rec = true;
              mark = pos;
              pos++;
            } else {
              throw nwf(`unexpected '${String.fromCharCode(c)}' in a start tag`);
            }
            break;
          }

          case S.AttrEq: {
            const c = s.charCodeAt(pos);
            if (c === 0x3d /* = */) state = S.AttrQuote;
            else if (!isSpace(c)) throw nwf(`attribute '${this.#attrName}' without a value`);
            pos++;
            break;
          }

          case S.AttrQuote: {
            const c = s.charCodeAt(pos);
            if (c === 0x22 /* " */ || c === 0x27 /* ' */) {
              this.#quote = c;
              state = S.AttrValue;
              this.#rec = true;
              mark = pos + 1;
            } else if (!isSpace(c)) {
              throw nwf(`attribute '${this.#attrName}' value not quoted`);
            }
            pos++;
            break;
          }

          case S.AttrValue: {
            const q = s.indexOf(this.#quote === 0x22 ? '"' : "'", pos);
            if (q === -1 || q >= end) {
              pos = end;
              break;
            }
            let raw: string;
            let plain = false;
            if (this.#rec && this.#acc !== "") raw = this.#acc + s.slice(mark, q);
            else {
              raw = s.slice(mark, q);
              plain = this.#plain.attr(mark, q);
            }
            this.#acc = "";
            this.#rec = false;
            this.#setAttr(this.#attrName, plain ? raw : decodeAttr(raw));
            this.#spaced = false;
            state = S.InTag;
            pos = q + 1;
            break;
          }

          case S.EmptyTag: {
            if (s.charCodeAt(pos) !== 0x3e /* > */) throw nwf("'/' not followed by '>' in a start tag");
            pos++;
            this.#at = pos;
            const ended = this.#startTag(true);
            state = this.#state;
            if (ended) return pos;
            break;
          }

          case S.EndTag: {
            const c = s.charCodeAt(pos);
            pos++;
            if (c === 0x3e /* > */) {
              this.#at = pos;
              const ended = this.#endTag();
              state = this.#state;
              if (ended) return pos;
            } else if (!isSpace(c)) {
              throw nwf(`unexpected '${String.fromCharCode(c)}' in the end tag of '${this.#name}'`);
            }
            break;
          }

          case S.Bang: {
            this.#bang += s[pos];
            pos++;
            const b = this.#bang;
            if (b === "--") throw new StreamError("restricted-xml", "comment");
            if (DTD_KEYWORDS.includes(b)) throw new StreamError("restricted-xml", "document type declaration");
            if (b === CDATA_OPEN) {
              // CDATA is plain character data (RFC 6120 §11.1 does not forbid it), so only inside
              // an element's content.
              if (!this.#inContent()) {
                if (this.#rootSeen && this.mode === "stream") {
                  throw new StreamError("bad-format", "character data between top-level elements");
                }
                throw nwf("CDATA section outside the document element");
              }
              state = S.Cdata;
              this.#tail = "";
              this.#rec = true;
              mark = pos;
            } else if (!"--".startsWith(b) && !CDATA_OPEN.startsWith(b) && !DTD_KEYWORDS.some((k) => k.startsWith(b))) {
              throw nwf("'<!' not followed by a comment, CDATA section or declaration");
            }
            break;
          }

          case S.Cdata: {
            let gt = -1;
            if (this.#tail !== "") {
              // ']]>' may straddle the cut: look at the last characters kept and the next two.
              const probe = this.#tail + s.slice(pos, Math.min(end, pos + 2));
              const k = probe.indexOf("]]>");
              if (k !== -1) gt = pos + k + 2 - this.#tail.length;
            }
            if (gt === -1) {
              const i = s.indexOf("]]>", pos);
              if (i !== -1 && i + 2 < end) gt = i + 2;
            }
            if (gt === -1) {
              this.#tail = (this.#tail + s.slice(Math.max(pos, end - 2), end)).slice(-2);
              pos = end;
              break;
            }
            const full = this.#acc + s.slice(mark, gt + 1);
            this.#acc = "";
            this.#rec = false;
            const content = full.slice(0, -3);
            if (content.length > 0) this.sink.text(decodeCdata(content));
            state = S.Text;
            pos = gt + 1;
            break;
          }

          case S.Decl: {
            const c = s.charCodeAt(pos);
            pos++;
            if (c === 0x3e /* > */ && this.#tail === "?") {
              const body = (this.#acc + s.slice(mark, pos)).slice(0, -2);
              this.#acc = "";
              this.#rec = false;
              checkXmlDecl(body);
              state = S.Text;
            } else {
              this.#tail = c === 0x3f /* ? */ ? "?" : "";
              if (this.#acc.length + (pos - mark) > MAX_DECL) throw nwf("XML declaration too long");
            }
            break;
          }

          case S.StreamRef: {
            const c = s.charCodeAt(pos);
            pos++;
            if (c === 0x3b /* ; */) {
              // Resolving throws for forbidden or malformed references; a legal one is still text.
              resolveReference(this.#bang);
              throw new StreamError("bad-format", "character data between top-level elements");
            }
            this.#bang += String.fromCharCode(c);
            if (this.#bang.length > MAX_STREAM_REF) throw nwf("'&' that does not start a reference");
            break;
          }

          case S.Done:
            return end;
        }
      }
      return pos;
    } finally {
      this.#state = state;
      if (this.#rec) this.#acc += s.slice(mark, pos);
    }
  }

  /** Inside an element below the stream level, where text is kept. */
  #inContent(): boolean {
    return this.#stack.length > (this.mode === "stream" ? 1 : 0);
  }

  /**
   * An attribute name has just been read (its value not yet): XML 1.0 §3.1 WFC Unique Att Spec and
   * the per-element counts, so a tag over a limit is refused at its first attribute too many.
   */
  #addAttrName(name: string): void {
    const n = this.#attrCount;
    if (n >= this.#maxAttributes) {
      throw new StreamError("policy-violation", `more than ${this.#maxAttributes} attributes on one element`);
    }
    if (name.charCodeAt(0) === 0x78 /* x */ && name.startsWith("xmlns") && (name.length === 5 || name.charCodeAt(5) === 0x3a)) {
      if (++this.#nsDeclCount > this.#maxNsDecls) {
        throw new StreamError("policy-violation", `more than ${this.#maxNsDecls} namespace declarations on one element`);
      }
    }
    // A list while short: a lookup on the attrs object (`in`, hasOwn) is a megamorphic keyed
    // access, the slowest line of the lexer, and a Set costs more than scanning a few names.
    const names = this.#attrNames;
    if (n < LINEAR_NAMES) {
      for (let i = 0; i < n; i++) if (names[i] === name) throw nwf(`attribute '${name}' repeated`);
      names[n] = name;
    } else {
      const set = this.#attrSet;
      if (n === LINEAR_NAMES) for (let i = 0; i < n; i++) set.add(names[i]!);
      if (set.has(name)) throw nwf(`attribute '${name}' repeated`);
      set.add(name);
    }
    this.#attrCount = n + 1;
  }

  #setAttr(name: string, value: string): void {
    const attrs = this.#attrs;
    if ((name.charCodeAt(0) === 0x78 /* x */ && name.startsWith("xmlns")) || name.includes(":")) {
      (this.#special ??= []).push(name);
    }
    if (name === "__proto__") Object.defineProperty(attrs, name, { value, enumerable: true, writable: true, configurable: true });
    else attrs[name] = value;
  }

  /** A start tag has just ended. Returns true when a unit ended (the budget must be recomputed). */
  #startTag(selfClosing: boolean): boolean {
    const depth = this.#stack.length;
    const level = this.mode === "stream" ? depth : depth + 1; // 1 = the unit's top element
    if (this.#rootSeen && depth === 0) throw nwf("a second document element");
    if (level > this.limits.maxDepth) {
      throw new StreamError("policy-violation", `elements nested deeper than ${this.limits.maxDepth}`);
    }
    const name = this.#name;
    const attrs = this.#attrs;
    this.#attrs = {};
    if (this.#attrCount > LINEAR_NAMES) this.#attrSet.clear();
    this.#state = S.Text;
    this.#rootSeen = true;
    if (!selfClosing) this.#stack.push(name);
    this.sink.startTag(name, attrs, this.#special, depth);
    if (selfClosing) this.sink.endTag(name, depth);
    // Units end at the stream header's '>' and at the end of each top-level element.
    const unitEnded = this.mode === "stream" ? depth <= 1 && (depth === 0 || selfClosing) : depth === 0 && selfClosing;
    if (unitEnded) this.#unitDone();
    if (this.mode === "stream" && depth === 0 && selfClosing) this.#state = S.Done;
    return unitEnded;
  }

  #unitDone(): void {
    this.#budget.stop();
    if (this.#srcStart >= 0) {
      this.#srcStart = -1;
      this.#srcParts = [];
    }
  }

  /** An end tag has just ended. Returns true when a unit ended. */
  #endTag(): boolean {
    const open = this.#stack.pop();
    if (open === undefined) throw nwf(`end tag '${this.#name}' without a start tag`);
    // XML 1.0 §3 WFC Element Type Match.
    if (open !== this.#name) throw nwf(`end tag '${this.#name}' does not match start tag '${open}'`);
    const depth = this.#stack.length;
    this.#state = S.Text;
    this.sink.endTag(open, depth);
    if (this.mode === "stream" ? depth <= 1 : depth === 0) {
      this.#unitDone();
      if (depth === 0 && this.mode === "stream") this.#state = S.Done;
      return true;
    }
    return false;
  }
}
