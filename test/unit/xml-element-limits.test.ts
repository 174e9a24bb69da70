// Per-element limits and checks (issue 10.2): MAX_ATTRIBUTES and MAX_NAMESPACE_DECLARATIONS end the
// stream with <policy-violation/> at the first attribute too many, whatever the chunking and without
// reading the rest of the tag; attributes are unique by raw name (XML 1.0 §3.1) and by expanded name
// (Namespaces in XML 1.0 §6.3), which RFC 6120 §4.9.3.13 makes <not-well-formed/>.

import { describe, expect, it } from "vitest";
import { FrameReader, StreamReader, type StreamEvent } from "../../src/xml/index.js";
import { enc, errorOf, feedSized, HEADER, summarize } from "./xml-helpers.js";

const MAX_ATTRS = 20;
const MAX_DECLS = 6;
const LIMITS = { maxStanzaBytes: 1 << 20, maxDepth: 16, maxAttributes: MAX_ATTRS, maxNamespaceDeclarations: MAX_DECLS };
const SIZES = [1, 2, 3, 7, 64, 1 << 30];

const last = (events: StreamEvent[]) => summarize(events).at(-1);

/** `<message a1='1' ... aN='N'/>` (plain attributes). */
const withAttrs = (n: number) => `<message${Array.from({ length: n }, (_, i) => ` a${i + 1}='${i + 1}'`).join("")}/>`;
/** `<message xmlns:p1='urn:p1' ... xmlns:pN='urn:pN'/>` (declarations only). */
const withDecls = (n: number) => `<message${Array.from({ length: n }, (_, i) => ` xmlns:p${i + 1}='urn:p${i + 1}'`).join("")}/>`;

describe("MAX_ATTRIBUTES", () => {
  it("accepts exactly the limit and refuses one more with policy-violation, in any chunking", () => {
    for (const size of SIZES) {
      expect(last(feedSized(HEADER + withAttrs(MAX_ATTRS), size, LIMITS))).toMatch(/^element <message /);
      expect(last(feedSized(HEADER + withAttrs(MAX_ATTRS + 1), size, LIMITS))).toBe("error policy-violation");
    }
  });

  it("counts namespace declarations as attributes", () => {
    // 4 declarations (under MAX_DECLS) + 17 plain attributes = 21 attributes.
    const tag = `<message xmlns='jabber:server' xmlns:a='urn:a' xmlns:b='urn:b' xmlns:c='urn:c'` +
      Array.from({ length: MAX_ATTRS - 3 }, (_, i) => ` x${i}='v'`).join("") + "/>";
    expect(errorOf(HEADER + tag, LIMITS)).toBe("policy-violation");
    expect(errorOf(HEADER + tag.replace(" x0='v'", ""), LIMITS)).toBeUndefined();
  });

  it("applies to every element of a stanza, to the stream header and to WebSocket frames", () => {
    expect(errorOf(HEADER + `<message><body>${withAttrs(MAX_ATTRS + 1)}</body></message>`, LIMITS)).toBe("policy-violation");
    expect(errorOf(HEADER + `<message><body>${withAttrs(MAX_ATTRS)}</body></message>`, LIMITS)).toBeUndefined();
    // The header already has 6 attributes.
    const header = (extra: number) => HEADER.replace("version='1.0'>", `version='1.0'${Array.from({ length: extra }, (_, i) => ` h${i}='v'`).join("")}>`);
    expect(summarize(feedSized(header(MAX_ATTRS - 6), 5, LIMITS))[0]).toMatch(/^open /);
    expect(summarize(feedSized(header(MAX_ATTRS - 5), 5, LIMITS))).toEqual(["error policy-violation"]);
    const frames = new FrameReader(LIMITS);
    frames.read("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing-server' to='edge.test' version='1.0'/>");
    expect(summarize(frames.read(withAttrs(MAX_ATTRS)))[0]).toMatch(/^element /);
    expect(summarize(frames.read(withAttrs(MAX_ATTRS + 1)))).toEqual(["error policy-violation"]);
  });

  it("refuses 20,000 attributes at attribute MAX_ATTRIBUTES + 1, when its name ends, reading no further", () => {
    // One chunk per attribute: the error must come out of the chunk that completes the name of
    // attribute 21 (before its value), and nothing after it is read. The old lexer accepted all 20,000
    // (comparing each name with every earlier one: 2 * 10^8 comparisons).
    const r = new StreamReader(LIMITS);
    expect(summarize(r.feed(HEADER + "<message"))).toHaveLength(1);
    const chunks: string[] = [];
    for (let i = 1; i <= 20_000; i++) chunks.push(` a${i}`, `='${i}'`);
    chunks.push("/>");
    let refusedAt = -1;
    for (let k = 0; k < chunks.length; k++) {
      const events = r.feed(enc.encode(chunks[k]!));
      if (events.length === 0) continue;
      expect(summarize(events)).toEqual(["error policy-violation"]);
      const e = events[0]!;
      expect(e.type === "error" && e.error.text).toBe(`more than ${MAX_ATTRS} attributes on one element`);
      refusedAt = k;
      break;
    }
    // chunks[2 * 20] is " a21", chunks[2 * 20 + 1] is "='21'": the '=' ends the name.
    expect(refusedAt).toBe(2 * MAX_ATTRS + 1);
    expect(r.done).toBe(true);
    expect(r.feed("='x'/>")).toEqual([]);
  });

  it("refuses 20,000 attributes sent at once", () => {
    expect(errorOf(HEADER + withAttrs(20_000), LIMITS)).toBe("policy-violation");
    // With the default limit (128) too.
    expect(errorOf(HEADER + withAttrs(20_000), { maxStanzaBytes: 1 << 20, maxDepth: 16 })).toBe("policy-violation");
    expect(errorOf(HEADER + withAttrs(128), { maxStanzaBytes: 1 << 20, maxDepth: 16 })).toBeUndefined();
  });
});

describe("MAX_NAMESPACE_DECLARATIONS", () => {
  it("accepts exactly the limit and refuses one more with policy-violation, in any chunking", () => {
    for (const size of SIZES) {
      expect(last(feedSized(HEADER + withDecls(MAX_DECLS), size, LIMITS))).toMatch(/^element <message /);
      expect(last(feedSized(HEADER + withDecls(MAX_DECLS + 1), size, LIMITS))).toBe("error policy-violation");
    }
  });

  it("counts the default namespace declaration and not prefixed attributes or xmlns-like names", () => {
    const decls = (n: number) => Array.from({ length: n }, (_, i) => ` xmlns:p${i}='urn:p${i}'`).join("");
    expect(errorOf(HEADER + `<message xmlns='jabber:server'${decls(MAX_DECLS)}/>`, LIMITS)).toBe("policy-violation");
    expect(errorOf(HEADER + `<message xmlns='jabber:server'${decls(MAX_DECLS - 1)}/>`, LIMITS)).toBeUndefined();
    // 'xmlnsx' is an ordinary attribute name; p0:a... are prefixed attributes, not declarations.
    const others = ` xmlnsx='1' xmlns-y='2'` + Array.from({ length: 5 }, (_, i) => ` p0:a${i}='v'`).join("");
    expect(errorOf(HEADER + `<message${decls(MAX_DECLS)}${others}/>`, LIMITS)).toBeUndefined();
  });

  it("is per element: a child may declare as many again", () => {
    expect(errorOf(HEADER + `<message${withDecls(MAX_DECLS).slice(8, -2)}>${withDecls(MAX_DECLS)}</message>`, LIMITS)).toBeUndefined();
  });

  it("refuses at the declaration too many, when its name ends", () => {
    const r = new StreamReader(LIMITS);
    r.feed(HEADER + withDecls(MAX_DECLS).slice(0, -2));
    expect(r.feed(" xmlns:q")).toEqual([]);
    expect(summarize(r.feed("="))).toEqual(["error policy-violation"]);
  });
});

describe("unique attributes", () => {
  it("refuses a raw name repeated among many (XML 1.0 §3.1 Unique Att Spec), first or last", () => {
    const many = Array.from({ length: 60 }, (_, i) => ` a${i}='v'`).join("");
    const limits = { ...LIMITS, maxAttributes: 128 };
    expect(errorOf(HEADER + `<message${many} a0='again'/>`, limits)).toBe("not-well-formed");
    expect(errorOf(HEADER + `<message${many} a59='again'/>`, limits)).toBe("not-well-formed");
    expect(errorOf(HEADER + `<message${many} a60='new'/>`, limits)).toBeUndefined();
    // The names of one tag are forgotten at the next.
    expect(errorOf(HEADER + `<message${many}/><message${many}/>`, limits)).toBeUndefined();
  });

  // Namespaces in XML 1.0 §6.3: "No element must have two attributes with the same expanded name".
  it("refuses two prefixes for one namespace on the same local name (Namespaces §6.3) -> not-well-formed", () => {
    expect(errorOf(HEADER + "<message xmlns:a='urn:x' xmlns:b='urn:x' a:attr='1' b:attr='2'/>")).toBe("not-well-formed");
    // One prefix inherited from the stream header, the other declared on the element.
    expect(errorOf(HEADER + "<message xmlns:d2='jabber:server:dialback' db:key='1' d2:key='2'/>")).toBe("not-well-formed");
    // Declared on a parent.
    expect(errorOf(HEADER + "<message xmlns:a='urn:x' xmlns:b='urn:x'><body a:x='1' b:x='2'/></message>")).toBe("not-well-formed");
    // Found among many prefixed attributes.
    const many = Array.from({ length: 40 }, (_, i) => ` a:n${i}='v'`).join("");
    expect(errorOf(HEADER + `<message xmlns:a='urn:x' xmlns:b='urn:x'${many} b:n39='v'/>`, { ...LIMITS, maxAttributes: 128 })).toBe("not-well-formed");
    // On the stream header.
    expect(errorOf(HEADER.replace("version='1.0'>", "version='1.0' xmlns:a='urn:x' xmlns:b='urn:x' a:z='1' b:z='2'>"))).toBe("not-well-formed");
  });

  it("accepts the same local name in different namespaces, or once prefixed and once not", () => {
    expect(errorOf(HEADER + "<message xmlns:a='urn:x' xmlns:b='urn:y' a:attr='1' b:attr='2' attr='3'/>")).toBeUndefined();
    // Rebinding a prefix on a child changes the expanded name.
    expect(errorOf(HEADER + "<message xmlns:a='urn:x' a:attr='1'><body xmlns:a='urn:y' xmlns:b='urn:x' a:attr='1' b:attr='2'/></message>")).toBeUndefined();
  });
});

describe("namespace checks on the stream header", () => {
  it("refuses an unbound prefix on a header attribute (RFC 6120 §4.9.3.2)", () => {
    expect(errorOf(HEADER.replace("version='1.0'>", "version='1.0' foo:bar='x'>"))).toBe("bad-namespace-prefix");
    expect(errorOf(HEADER.replace("version='1.0'>", "version='1.0' xmlns:foo='urn:foo' foo:bar='x'>"))).toBeUndefined();
  });

  it("refuses a local name that is not an NCName (Namespaces in XML §4)", () => {
    expect(errorOf(HEADER + "<message xmlns:a='urn:a' a:1x='v'/>")).toBe("not-well-formed");
    expect(errorOf(HEADER + "<db:-result/>")).toBe("not-well-formed");
  });
});
