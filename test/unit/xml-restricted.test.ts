// RFC 6120 §11: restricted XML and well-formedness. Each construct in each place it can appear.

import { describe, expect, it } from "vitest";
import { StreamReader } from "../../src/xml/index.js";
import { errorOf, HEADER, LIMITS } from "./xml-helpers.js";

const STANZA = (inner: string) => HEADER + `<message from='a@montague.example'><body>${inner}</body></message>`;

describe("RFC 6120 §11.1 restricted XML -> <restricted-xml/>", () => {
  const cases: Array<[string, string]> = [
    ["comment inside a stanza", STANZA("<!-- hi -->")],
    ["comment between stanzas", HEADER + "<presence/><!-- hi --><presence/>"],
    ["comment before the stream header", "<?xml version='1.0'?><!-- hi -->" + HEADER.slice(21)],
    ["empty comment", STANZA("<!---->")],
    ["DOCTYPE before the header", "<!DOCTYPE stream:stream>" + HEADER.slice(21)],
    ["DOCTYPE with internal subset", "<!DOCTYPE x [<!ENTITY a 'b'>]>" + HEADER.slice(21)],
    ["DOCTYPE inside the stream", HEADER + "<!DOCTYPE x>"],
    ["ENTITY declaration inside a stanza", STANZA("<!ENTITY a 'b'>")],
    ["ELEMENT declaration", HEADER + "<!ELEMENT x ANY>"],
    ["ATTLIST declaration", HEADER + "<!ATTLIST x a CDATA #IMPLIED>"],
    ["processing instruction inside a stanza", STANZA("<?php echo 1; ?>")],
    ["processing instruction between stanzas", HEADER + "<?target data?>"],
    ["processing instruction after the XML declaration", "<?xml version='1.0'?><?x y?>" + HEADER.slice(21)],
    ["processing instruction instead of the XML declaration", "<?xml-stylesheet href='a'?>" + HEADER.slice(21)],
    ["XML declaration not at the very start", " " + HEADER],
    ["XML declaration inside the stream", HEADER + "<?xml version='1.0'?>"],
    ["undeclared entity in text", STANZA("&nbsp;")],
    ["undeclared entity in an attribute", HEADER + "<message to='&foo;'/>"],
    ["undeclared entity in the header", HEADER.replace("version='1.0'>", "version='&v;'>")],
    ["entity reference between stanzas", HEADER + "&foo;<presence/>"],
    ["parameter-entity-like reference name", STANZA("&x.y-z;")],
  ];
  for (const [what, input] of cases) {
    it(what, () => expect(errorOf(input)).toBe("restricted-xml"));
  }
});

describe("malformed XML -> <not-well-formed/>", () => {
  const cases: Array<[string, string]> = [
    ["mismatched end tag", STANZA("<b></i>")],
    ["end tag of the stanza mismatched", HEADER + "<message></presence>"],
    ["end tag at stream level that closes nothing open", HEADER + "</message>"],
    ["attribute without value", HEADER + "<message a/>"],
    ["attribute without quotes", HEADER + "<message a=b/>"],
    ["repeated attribute", HEADER + "<message a='1' a='2'/>"],
    ["attributes without whitespace between", HEADER + "<message a='1'b='2'/>"],
    ["'<' in an attribute value", HEADER + "<message a='<'/>"],
    ["name starting with a digit", HEADER + "<1message/>"],
    ["space after '<'", HEADER + "< message/>"],
    ["'/' not followed by '>'", HEADER + "<message/ >"],
    ["garbage in a start tag", HEADER + "<message a='1' ?>"],
    ["garbage in an end tag", STANZA("") + "</x y>"],
    ["bare '&' in text", STANZA("fish & chips")],
    ["'&' without ';' at the end of text", STANZA("a &amp")],
    ["&#0;", STANZA("&#0;")],
    ["reference to a surrogate", STANZA("&#xD800;")],
    ["reference beyond Unicode", STANZA("&#x110000;")],
    ["reference to U+FFFE", STANZA("&#xFFFE;")],
    ["reference to a C0 control", HEADER + "<message a='&#1;'/>"],
    ["malformed hex reference", STANZA("&#xZZ;")],
    ["uppercase X in a hex reference", STANZA("&#X41;")],
    ["empty character reference", STANZA("&#;")],
    ["empty entity name", STANZA("&;")],
    ["']]>' in text", STANZA("a ]]> b")],
    ["raw C0 control character", STANZA("a\u0001b")],
    ["raw U+FFFF", STANZA("a\uffffb")],
    ["raw NUL in an attribute", HEADER + "<message a='\u0000'/>"],
    ["text before the stream header", "hello" + HEADER],
    ["'<!' that starts nothing", STANZA("<!x>")],
    ["'<!-' that is not a comment", STANZA("<!-x>")],
    ["CDATA before the header", "<![CDATA[x]]>" + HEADER],
    ["unterminated '<' followed by a symbol", HEADER + "<=>"],
    ["XML declaration without version", "<?xml encoding='UTF-8'?>" + HEADER.slice(21)],
  ];
  for (const [what, input] of cases) {
    it(what, () => expect(errorOf(input)).toBe("not-well-formed"));
  }

  const badUtf8: Array<[string, number[]]> = [
    ["0xFF", [0xff]],
    ["a lone continuation byte", [0x80]],
    ["an overlong encoding of '<'", [0xc0, 0xbc]],
    ["an encoded surrogate", [0xed, 0xa0, 0x80]],
    ["a code point beyond U+10FFFF", [0xf4, 0x90, 0x80, 0x80]],
    ["a truncated sequence followed by ASCII", [0xe2, 0x82, 0x41]],
  ];
  for (const [what, bytes] of badUtf8) {
    it(`invalid UTF-8: ${what}`, () => {
      const r = new StreamReader(LIMITS);
      const events = [
        ...r.feed(new TextEncoder().encode(STANZA("").slice(0, -17))),
        ...r.feed(new Uint8Array(bytes)),
        ...r.feed(new TextEncoder().encode("</body></message>")),
      ];
      const last = events[events.length - 1]!;
      expect(last.type === "error" && last.error.condition).toBe("not-well-formed");
    });
  }
});

describe("character data between stanzas -> <bad-format/>", () => {
  it("refuses text at stream level", () => expect(errorOf(HEADER + "hello<presence/>")).toBe("bad-format"));
  it("refuses a character reference at stream level", () => expect(errorOf(HEADER + "&#65;")).toBe("bad-format"));
  it("refuses CDATA at stream level", () => expect(errorOf(HEADER + "<![CDATA[x]]>")).toBe("bad-format"));
});

describe("what RFC 6120 §11 allows", () => {
  it("accepts CDATA sections, including ones holding markup", () => {
    expect(errorOf(STANZA("<![CDATA[<!-- not a comment --> &nbsp; <?pi?>]]>"))).toBeUndefined();
  });
  it("accepts the five predefined entities and character references", () => {
    expect(errorOf(STANZA("&amp;&lt;&gt;&quot;&apos;&#9;&#x10FFFF;&#0065;"))).toBeUndefined();
  });
  it("accepts non-ASCII names", () => {
    expect(errorOf(HEADER + "<message><ñandú xmlns='urn:x' ñ='1'/></message>")).toBeUndefined();
  });
  it("accepts '>' in text and attribute values, and whitespace around '='", () => {
    expect(errorOf(HEADER + "<message a = '>' ><body>a > b</body ></message >")).toBeUndefined();
  });
});
