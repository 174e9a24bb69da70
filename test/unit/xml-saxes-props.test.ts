// Issue 15, property 2: differential testing against saxes (a well-kept streaming XML parser with
// namespace support) on random documents of the RFC 6120 §11 subset: elements, attributes, namespace
// declarations and prefixes, text, CDATA, character references and the five predefined entities,
// written with random quoting, whitespace, escaping and line ends, then sometimes damaged by random
// edits. Both read the same text; our side is the lexer and tree builder in document mode (what
// FrameReader runs per WebSocket frame).
//
//   - saxes accepts, and the document has nothing outside the subset -> we accept and build the same
//     tree: expanded names of elements and attributes, attribute values, text (CDATA merged in);
//   - saxes accepts a document with a comment, processing instruction, DOCTYPE or an entity other
//     than the five (saxes is told its value, as a DTD would declare it) -> we refuse with
//     restricted-xml (RFC 6120 §11.1);
//   - saxes refuses -> we refuse too.
//
// Disagreements decided from the specs (and kept out of the comparison, each with a plain test below):
//   - `p:1a`: saxes accepts a prefixed name whose local part starts with a digit. Namespaces in XML
//     1.0 §4 [7]-[11]: LocalPart ::= NCName, an XML Name without ':', and a Name cannot start with a
//     digit, '-' or '.' (XML 1.0 §2.3 [4]-[5]). Saxes is wrong; we say not-well-formed.
//   - Two prefixes for one namespace on one local name (a:x, b:x): saxes refuses ("duplicate
//     attribute {u}x"), as Namespaces in XML §6.3 says; the lexer accepted it until issue 10.2, which
//     also added the NCName check above (both found reading the lexer for 10.2, before this property
//     ran; the property finds neither on the current code in 20,000 runs).
//   - XML declaration with an encoding other than UTF-8: saxes accepts; RFC 6120 §11.6 (UTF-8 only)
//     makes it unsupported-encoding for us. Not generated.

import fc from "fast-check";
import type { Element } from "ltx";
import { SaxesParser } from "saxes";
import { describe, expect, it } from "vitest";
import { StreamError } from "../../src/errors.js";
import { XmlLexer } from "../../src/xml/lexer.js";
import { TreeBuilder } from "../../src/xml/tree.js";
import { check, PROP_TIMEOUT } from "./props.js";

const NS_XML = "http://www.w3.org/XML/1998/namespace";
const NS_XMLNS = "http://www.w3.org/2000/xmlns/";
/** What saxes expands the undeclared entity to (as if a DTD declared it). */
const ENTITY_VALUE = "\ue000entity\ue000";

// ------------------------------------------------------------------------------------------ model

type Node =
  | { kind: "element"; prefix: string | null; local: string; decls: Array<[string | null, string]>; attrs: Array<[string | null, string, string]>; children: Node[] }
  | { kind: "text"; value: string }
  | { kind: "cdata"; value: string }
  | { kind: "outside"; what: "comment" | "pi" | "entity" };

const prefix = fc.constantFrom<string | null>(null, null, null, "p", "q", "db", "xml");
const local = fc.constantFrom("a", "b", "message", "body", "x1", "é", "ρ", "_u", "a-b", "a.b", "ロ");
const uri = fc.constantFrom("urn:a", "urn:b", "urn:a", "jabber:server", "", NS_XML);
const declPrefix = fc.constantFrom<string | null>(null, "p", "q", "p", "q", "db", "xml");
const TEXT_CHARS = ["a", "b", " ", "\n", "\r", "\r\n", "\t", "<", ">", "&", '"', "'", "]", "]]", "é", "😀", "\u2028", "\u0085", "\ufffd", "="];
const text = fc.array(fc.constantFrom(...TEXT_CHARS), { maxLength: 8 }).map((a) => a.join(""));

const tree = fc.letrec<{ element: Node; node: Node }>((tie) => ({
  element: fc.record({
    kind: fc.constant("element" as const),
    prefix,
    local,
    decls: fc.array(fc.tuple(declPrefix, uri), { maxLength: 3 }),
    attrs: fc.array(fc.tuple(prefix, local, text), { maxLength: 4 }),
    children: fc.array(tie("node"), { maxLength: 4 }),
  }),
  node: fc.oneof(
    // At maxDepth the first (a leaf) is taken.
    { depthSize: "small", maxDepth: 5, withCrossShrink: true },
    { weight: 3, arbitrary: text.map((value) => ({ kind: "text" as const, value })) },
    { weight: 3, arbitrary: tie("element") },
    { weight: 1, arbitrary: text.map((value) => ({ kind: "cdata" as const, value })) },
    { weight: 1, arbitrary: fc.constantFrom("comment", "pi", "entity").map((what) => ({ kind: "outside" as const, what: what as "comment" | "pi" | "entity" })) },
  ),
})).element;

/**
 * Mostly namespace-well-formed trees (three in four): reserved or empty bindings dropped, unbound
 * prefixes declared where used, raw names unique; the rest stay as generated, to be refused.
 */
function tidy(n: Node, bound: ReadonlySet<string> = new Set(["xml"])): Node {
  if (n.kind !== "element") return n;
  const decls = new Map<string | null, string>();
  for (const [p, u] of n.decls) {
    if (p === "xml" || u === NS_XML || (p !== null && u === "")) continue;
    decls.set(p, u);
  }
  const inScope = new Set(bound);
  for (const p of decls.keys()) if (p !== null) inScope.add(p);
  const attrs = new Map<string, [string | null, string, string]>();
  for (const a of n.attrs) attrs.set(`${a[0]}:${a[1]}`, a);
  for (const p of [n.prefix, ...[...attrs.values()].map((a) => a[0])]) {
    if (p !== null && !inScope.has(p)) {
      decls.set(p, `urn:${p}`);
      inScope.add(p);
    }
  }
  return { ...n, decls: [...decls], attrs: [...attrs.values()], children: n.children.map((c) => tidy(c, inScope)) };
}

const document = fc.tuple(tree, fc.nat({ max: 3 })).map(([t, k]) => (k === 0 ? t : tidy(t)));

/** How to write a document: a random choice for every place the serialization may vary. */
const choices = fc.infiniteStream(fc.nat({ max: 99 }));

class Writer {
  constructor(private readonly r: Iterator<number>) {}
  /** A random integer below n. */
  pick(n: number): number {
    return this.r.next().value % n;
  }
  ws(): string {
    return ["", "", " ", "\n", "\t", "\r\n "][this.pick(6)]!;
  }
  sp(): string {
    return [" ", " ", "\n", "\t", "  "][this.pick(5)]!;
  }
  /** A character as text: raw where allowed, or escaped in one of the ways XML offers. */
  char(c: string, quote: string | null): string {
    const cp = c.codePointAt(0)!;
    const ref = () => (this.pick(2) ? `&#${cp};` : `&#x${cp.toString(16)};`);
    if (c === "<") return ["&lt;", ref()][this.pick(2)]!;
    if (c === "&") return ["&amp;", ref()][this.pick(2)]!;
    if (c === ">") return [">", "&gt;", ref()][this.pick(3)]!;
    if (c === quote) return [c === '"' ? "&quot;" : "&apos;", ref()][this.pick(2)]!;
    if (c === '"' || c === "'") return [c, c === '"' ? "&quot;" : "&apos;", ref()][this.pick(3)]!;
    return this.pick(5) === 0 ? ref() : c;
  }
  escaped(value: string, quote: string | null): string {
    // Line ends are written raw or as references (a raw CR or CRLF is normalized by the reader).
    let out = "";
    for (let i = 0; i < value.length; ) {
      if (value.startsWith("\r\n", i)) {
        out += this.pick(3) ? "\r\n" : "&#13;&#10;";
        i += 2;
        continue;
      }
      const c = String.fromCodePoint(value.codePointAt(i)!);
      out += this.char(c, quote);
      i += c.length;
    }
    return out;
  }
  qname(p: string | null, l: string): string {
    return p === null ? l : `${p}:${l}`;
  }
  node(n: Node): string {
    switch (n.kind) {
      case "text":
        return this.escaped(n.value, null);
      case "cdata":
        return `<![CDATA[${n.value.replaceAll("]]>", "]]]]><![CDATA[>")}]]>`;
      case "outside":
        return { comment: "<!-- note -->", pi: "<?target data?>", entity: "&ent;" }[n.what];
      case "element": {
        const name = this.qname(n.prefix, n.local);
        let out = `<${name}`;
        const attrs: string[] = [];
        for (const [p, u] of n.decls) attrs.push(`${p === null ? "xmlns" : `xmlns:${p}`}${this.eq()}${this.quoted(u)}`);
        for (const [p, l, v] of n.attrs) attrs.push(`${this.qname(p, l)}${this.eq()}${this.quoted(v)}`);
        // Declarations and attributes in any order.
        for (let i = attrs.length - 1; i > 0; i--) {
          const j = this.pick(i + 1);
          [attrs[i], attrs[j]] = [attrs[j]!, attrs[i]!];
        }
        for (const a of attrs) out += this.sp() + a;
        out += this.ws();
        if (n.children.length === 0 && this.pick(2)) return out + "/>";
        return out + ">" + n.children.map((c) => this.node(c)).join("") + `</${name}${this.ws()}>`;
      }
    }
  }
  eq(): string {
    return this.ws() + "=" + this.ws();
  }
  quoted(v: string): string {
    const q = this.pick(2) ? "'" : '"';
    return q + this.escaped(v, q) + q;
  }
  document(root: Node, doctype: boolean): string {
    const decl = ["", "", "<?xml version='1.0'?>", '<?xml version="1.0" encoding="UTF-8"?>', "<?xml version='1.0' standalone='yes'?>\n"][this.pick(5)]!;
    return decl + (doctype ? "<!DOCTYPE a>" : "") + this.node(root) + ["", "\n", " \r\n"][this.pick(3)]!;
  }
}

/** Random edits that usually break a document: insert, delete or duplicate a piece. */
const JUNK = ["<", ">", "&", ";", "'", '"', "=", "/", ":", "]]>", "<![CDATA[", "<a>", "</a>", "xmlns:p='urn:a'", "p:", "1", " ", "&#", "\u0001", "\ufffe", "<!--", "?>"];
const edits = fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), fc.nat({ max: JUNK.length * 3 })), { maxLength: 3 });

function applyEdits(doc: string, list: Array<[number, number, number]>): string {
  let s = doc;
  for (const [a, b, k] of list) {
    const i = Math.floor(a * s.length);
    const j = Math.min(s.length, i + Math.floor(b * 8));
    if (k < JUNK.length) s = s.slice(0, i) + JUNK[k] + s.slice(i);
    else if (k < 2 * JUNK.length) s = s.slice(0, i) + s.slice(j);
    else s = s.slice(0, j) + s.slice(i, j) + s.slice(j);
  }
  return s;
}

// -------------------------------------------------------------------------------------- readers

/** The comparable tree: expanded names, attribute values (declarations left out), merged text. */
interface Tree {
  uri: string;
  local: string;
  attrs: string[];
  children: Array<Tree | string>;
}

type Verdict = { ok: true; tree: Tree; outside: boolean } | { ok: false; condition: string; message: string; outside: boolean };

function saxes(doc: string): Verdict {
  const p = new SaxesParser({ xmlns: true, position: true });
  p.ENTITIES.ent = ENTITY_VALUE;
  const errors: string[] = [];
  let outside = false;
  const stack: Tree[] = [];
  let root: Tree | undefined;
  const addText = (t: string) => {
    const top = stack[stack.length - 1];
    if (!top) return;
    if (t.includes(ENTITY_VALUE)) outside = true;
    const last = top.children[top.children.length - 1];
    if (typeof last === "string") top.children[top.children.length - 1] = last + t;
    else if (t !== "") top.children.push(t);
  };
  p.on("error", (e) => errors.push(e.message));
  p.on("comment", () => (outside = true));
  p.on("processinginstruction", () => (outside = true));
  p.on("doctype", () => (outside = true));
  p.on("text", addText);
  p.on("cdata", addText);
  p.on("opentag", (t) => {
    const attrs = Object.values(t.attributes)
      .filter((a) => a.uri !== NS_XMLNS)
      .map((a) => {
        if (a.value.includes(ENTITY_VALUE)) outside = true;
        return `{${a.uri}}${a.local}=${JSON.stringify(a.value)}`;
      })
      .sort();
    const el: Tree = { uri: t.uri, local: t.local, attrs, children: [] };
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(el);
    else root ??= el;
    stack.push(el);
  });
  p.on("closetag", () => stack.pop());
  try {
    p.write(doc).close();
  } catch (e) {
    errors.push(String(e));
  }
  if (errors.length > 0 || !root) return { ok: false, condition: "error", message: errors[0] ?? "no root", outside };
  return { ok: true, tree: root, outside };
}

function ours(doc: string): Verdict {
  let root: Element | undefined;
  const tb = new TreeBuilder(0, { element: (el) => (root = el) });
  tb.setScope(undefined, {});
  const lexer = new XmlLexer("document", { maxStanzaBytes: 1 << 20, maxDepth: 64, maxAttributes: 1000, maxNamespaceDeclarations: 1000 }, tb);
  try {
    lexer.write(doc);
    if (!lexer.finished || !root) throw new StreamError("not-well-formed", "incomplete document");
  } catch (e) {
    if (!(e instanceof StreamError)) throw e;
    return { ok: false, condition: e.condition, message: e.text ?? "", outside: false };
  }
  return { ok: true, tree: expand(root, new Map([["xml", NS_XML]]), ""), outside: false };
}

/** Our ltx tree with prefixes resolved (Namespaces in XML §6), in the same shape as saxes's. */
function expand(el: Element, outer: Map<string, string>, outerDefault: string): Tree {
  const scope = new Map(outer);
  let dflt = outerDefault;
  const attrs = el.attrs as Record<string, string>;
  for (const k of Object.keys(attrs)) {
    if (k === "xmlns") dflt = attrs[k]!;
    else if (k.startsWith("xmlns:")) scope.set(k.slice(6), attrs[k]!);
  }
  const split = (q: string, isElement: boolean): [string, string] => {
    const c = q.indexOf(":");
    if (c === -1) return [isElement ? dflt : "", q];
    return [scope.get(q.slice(0, c))!, q.slice(c + 1)];
  };
  const [uri, local] = split(el.name, true);
  const out: Tree = {
    uri,
    local,
    attrs: Object.keys(attrs)
      .filter((k) => k !== "xmlns" && !k.startsWith("xmlns:"))
      .map((k) => {
        const [u, l] = split(k, false);
        return `{${u}}${l}=${JSON.stringify(attrs[k])}`;
      })
      .sort(),
    children: [],
  };
  for (const c of el.children) {
    if (typeof c === "string") {
      const last = out.children[out.children.length - 1];
      if (typeof last === "string") out.children[out.children.length - 1] = last + c;
      else if (c !== "") out.children.push(c);
    } else out.children.push(expand(c as Element, scope, dflt));
  }
  return out;
}

// ---------------------------------------------------------------------------------- the property

/** The known, decided disagreements (see the top of the file): saxes accepts, the specs do not. */
const SAXES_LENIENT = /:[0-9.\-]/;

function compare(doc: string): void {
  const theirs = saxes(doc);
  const mine = ours(doc);
  const where = `document ${JSON.stringify(doc)}: saxes ${theirs.ok ? "accepts" : `refuses (${theirs.message})`}, ours ${mine.ok ? "accepts" : `refuses (${mine.condition}: ${mine.message})`}`;
  if (theirs.ok && !theirs.outside) {
    if (!mine.ok && mine.condition === "not-well-formed" && SAXES_LENIENT.test(doc) && /qualified name/.test(mine.message)) return;
    expect(mine.ok, where).toBe(true);
    if (mine.ok) expect(mine.tree, where).toEqual(theirs.tree);
  } else if (theirs.ok && theirs.outside) {
    expect(mine.ok ? "accepted" : mine.condition, where).toBe("restricted-xml");
  } else {
    expect(mine.ok, where).toBe(false);
    if (!mine.ok) expect(["not-well-formed", "restricted-xml", "bad-namespace-prefix"], where).toContain(mine.condition);
  }
}

describe("property: ours and saxes agree on the restricted-XML subset", () => {
  it(
    "random documents as written",
    () => check(fc.property(document, fc.nat({ max: 7 }), choices, (root, d, r) => compare(new Writer(r).document(root, d === 0)))),
    PROP_TIMEOUT,
  );

  it(
    "random documents with random edits",
    () =>
      check(
        fc.property(document, choices, edits, (root, r, list) => compare(applyEdits(new Writer(r).document(root, false), list))),
      ),
    PROP_TIMEOUT,
  );
});

describe("disagreements with saxes, decided from the specs", () => {
  const cond = (doc: string) => {
    const v = ours(doc);
    return v.ok ? "accepted" : v.condition;
  };

  it("a local part that is not an NCName is not namespace-well-formed (saxes accepts it)", () => {
    expect(saxes("<p:1a xmlns:p='urn:a'/>").ok).toBe(true);
    expect(cond("<p:1a xmlns:p='urn:a'/>")).toBe("not-well-formed");
    expect(cond("<a xmlns:p='urn:a' p:-x='1'/>")).toBe("not-well-formed");
  });
});
