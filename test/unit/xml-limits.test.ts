// Limits (config Limits): an element over maxStanzaBytes (bytes of UTF-8, RFC 6120 §13.12) or
// nested deeper than maxDepth ends the stream with <policy-violation/>, and nothing is buffered
// beyond the limit whatever the input.

import { describe, expect, it } from "vitest";
import { StreamReader, type StreamEvent } from "../../src/xml/index.js";
import { enc, feedSized, HEADER, summarize } from "./xml-helpers.js";

const MAX = 1024;
const LIMITS = { maxStanzaBytes: MAX, maxDepth: 4 };

/** A message of exactly `bytes` bytes of UTF-8, padded with `fill` in its body. */
function stanzaOf(bytes: number, fill = "x"): string {
  const shell = "<message><body></body></message>";
  const fillBytes = enc.encode(fill).length;
  const room = bytes - shell.length;
  return `<message><body>${fill.repeat(Math.floor(room / fillBytes))}${"y".repeat(room % fillBytes)}</body></message>`;
}

const last = (events: StreamEvent[]) => summarize(events).at(-1);

describe("maxStanzaBytes", () => {
  for (const [what, fill] of [["ASCII", "x"], ["2-byte UTF-8", "é"], ["3-byte UTF-8", "—"], ["4-byte UTF-8", "😀"]]) {
    it(`accepts exactly the limit and refuses one byte more (${what}), in any chunking`, () => {
      const ok = stanzaOf(MAX, fill!);
      const over = stanzaOf(MAX + 1, fill!);
      expect(enc.encode(ok).length).toBe(MAX);
      expect(enc.encode(over).length).toBe(MAX + 1);
      for (const size of [1, 5, 100, 1 << 20]) {
        expect(last(feedSized(HEADER + ok + "<presence/>", size, LIMITS))).toBe("element <presence xmlns='jabber:server'/>");
        expect(last(feedSized(HEADER + over + "<presence/>", size, LIMITS))).toBe("error policy-violation");
      }
    });
  }

  it("counts the limit per element, not per stream", () => {
    const many = HEADER + stanzaOf(MAX).repeat(50);
    expect(summarize(feedSized(many, 4096, LIMITS)).filter((l) => l.startsWith("element")).length).toBe(50);
  });

  it("applies to the stream header", () => {
    const big = HEADER.replace("version='1.0'>", `version='1.0' x='${"a".repeat(MAX)}'>`);
    expect(last(feedSized(big, 64, LIMITS))).toBe("error policy-violation");
  });

  // Unterminated tokens: the reader must give up once the limit is passed, not buffer forever.
  const endless: Array<[string, string, string]> = [
    ["an attribute value without its closing quote", "<message to='", "a"],
    ["a text node without '<'", "<message><body>", "b"],
    ["an element name", "<m", "m"],
    ["an attribute name", "<message a", "a"],
    ["whitespace inside a start tag", "<message ", " "],
    ["a CDATA section without ']]>'", "<message><![CDATA[", "]"],
    ["an end tag name", "<message></m", "m"],
  ];
  for (const [what, start, filler] of endless) {
    it(`stops ${what} at the limit`, () => {
      const r = new StreamReader(LIMITS);
      let fed = r.feed(HEADER + start).length;
      let events: StreamEvent[] = [];
      let chunks = 0;
      while (events.length === 0 && chunks < 1000) {
        events = r.feed(enc.encode(filler.repeat(100)));
        chunks++;
      }
      expect(fed).toBe(1);
      expect(last(events)).toBe("error policy-violation");
      // Refused within the chunk that crossed the limit.
      expect(chunks).toBe(Math.floor((MAX - start.length) / 100) + 1);
      fed = r.feed("more").length;
      expect(fed).toBe(0);
    });
  }

  it("does not count or keep whitespace between stanzas", () => {
    const r = new StreamReader(LIMITS);
    r.feed(HEADER);
    const spaces = enc.encode(" ".repeat(64 * 1024));
    for (let i = 0; i < 64; i++) expect(r.feed(spaces)).toEqual([]);
    expect(summarize(r.feed("<presence/>"))).toEqual(["element <presence xmlns='jabber:server'/>"]);
  });

  it("stops an endless XML declaration", () => {
    const r = new StreamReader({ maxStanzaBytes: 1 << 20, maxDepth: 4 });
    const events = r.feed("<?xml version='1.0'" + " ".repeat(1000));
    expect(last(events)).toBe("error not-well-formed");
  });
});

describe("maxDepth", () => {
  const nest = (n: number) => "<a>".repeat(n - 1) + "<a/>" + "</a>".repeat(n - 1);
  it("accepts nesting up to the limit, the stanza counting as level 1", () => {
    expect(last(feedSized(HEADER + `<message>${nest(3)}</message>`, 1, LIMITS))).toMatch(/^element/);
  });
  it("refuses one level more, as soon as the start tag is read", () => {
    const r = new StreamReader(LIMITS);
    expect(last(r.feed(HEADER + `<message>${"<a>".repeat(4)}`))).toBe("error policy-violation");
  });
  it("refuses a self-closing element one level too deep", () => {
    expect(last(feedSized(HEADER + `<message>${nest(4)}</message>`, 7, LIMITS))).toBe("error policy-violation");
  });
});
