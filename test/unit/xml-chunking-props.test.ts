// Issue 15, property 1: chunking does not matter. For any byte sequence (valid or not) and any
// split into chunks, StreamReader yields the same events, the same stream error at the same byte,
// or the same "need more" state. The reference is the input fed one byte at a time: every event
// must come out of the chunk holding the byte that completes it (its last byte), so a chunk's
// events are exactly the reference events of its bytes, and end() then agrees too. Inputs mix XML
// fragments (tags, references, CDATA, ']]>'-like runs, declarations, forbidden constructs) with raw
// bytes (multi-byte UTF-8 that cuts may split, invalid UTF-8), behind a stream header or not, under
// random limits small enough to be hit.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { StreamReader, type ReaderLimits, type StreamEvent } from "../../src/xml/index.js";
import { concatBytes } from "../../src/bytes.js";
import { check, PROP_TIMEOUT } from "./props.js";
import { enc, HEADER, summarize } from "./xml-helpers.js";

const FRAGMENTS = [
  "<", ">", "/>", "</", "/", "=", "'", '"', "='", "' ", " ", "\n", "\r\n", "\r", "\t",
  "message", "body", "a", "b:c", "db:result", "xmlns", "xmlns:b='urn:b'", "xmlns='jabber:server'", "xml:lang='en'",
  "<message>", "</message>", "<body>", "</body>", "<presence/>", "<message a='1' b=\"2\">", "</stream:stream>",
  "&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#65;", "&#x1F600;", "&#0;", "&#xD800;", "&", ";", "&foo;", "&#",
  "]]>", "]]", "]", "]>", "<![CDATA[", "<![CDATA[x]]>", "<![CD", "<!", "<!--", "-->", "<!DOCTYPE x>",
  "<?", "?>", "<?xml version='1.0'?>", "<?php ?>",
  "é", "😀", "—", "ロ", "\u2028", "\ufeff", "\ufffe", "\u0001", "\u0000",
];

const RAW_BYTES = fc.oneof(
  // Multi-byte UTF-8 cut short or continued wrongly, overlong forms, surrogates, and stray bytes.
  fc.constantFrom([0xc3], [0xa9], [0xe2, 0x80], [0xf0, 0x9f, 0x98], [0xc0, 0xbc], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xff], [0xfe]),
  fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 4 }),
).map((b) => Uint8Array.from(b));

// Whole stanzas too, so that inputs get past the header and some elements come out before a fault.
const STANZAS = [
  "<presence/>", "<message><body>hi é 😀</body></message>", "<message to='a@b' xml:lang='en'>x</message>",
  "<db:result from='a' to='b'>k</db:result>", "<iq xmlns:p='urn:p' p:a='1'><p:q/></iq>", "<message><![CDATA[<]]]]></message>",
];
const piece = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...FRAGMENTS).map((s) => enc.encode(s)) },
  { weight: 2, arbitrary: fc.constantFrom(...STANZAS).map((s) => enc.encode(s)) },
  { weight: 1, arbitrary: RAW_BYTES },
);

const input = fc
  .tuple(fc.constantFrom("", HEADER, HEADER, HEADER.slice(21)), fc.array(piece, { maxLength: 48 }))
  .map(([head, pieces]) => concatBytes([enc.encode(head), ...pieces]));

// Mostly what a stream header needs (6 attributes, 3 declarations) and more, sometimes less.
const limits: fc.Arbitrary<ReaderLimits> = fc.record({
  maxStanzaBytes: fc.constantFrom(24, 230, 300, 4096, 4096, 4096),
  maxDepth: fc.constantFrom(1, 2, 4, 16, 16),
  maxAttributes: fc.constantFrom(2, 6, 7, 16, 16, 16),
  maxNamespaceDeclarations: fc.constantFrom(1, 3, 4, 32, 32, 32),
});

/** Cut points as fractions of the input, so they stay meaningful while the input shrinks. */
const cuts = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 });

/** Events with the error's text too: "the same stream error" is its condition and its reason. */
function describeEvents(events: StreamEvent[]): string[] {
  return summarize(events).map((s, i) => {
    const e = events[i]!;
    return e.type === "error" ? `${s} (${e.error.text})` : s;
  });
}

/** The reference: the events each byte completes, then those of end(). */
function byteByByte(bytes: Uint8Array, l: ReaderLimits): { perByte: string[][]; end: string[]; done: boolean } {
  const r = new StreamReader(l);
  const perByte: string[][] = [];
  for (let i = 0; i < bytes.length; i++) perByte.push(describeEvents(r.feed(bytes.subarray(i, i + 1))));
  const done = r.done;
  return { perByte, end: describeEvents(r.end()), done };
}

/** Feeds the input cut at `at`, checking each chunk's events against the reference. */
function checkChunked(bytes: Uint8Array, l: ReaderLimits, fractions: number[]): void {
  const ref = byteByByte(bytes, l);
  const points = [...new Set(fractions.map((f) => Math.round(f * bytes.length)))].filter((p) => p > 0 && p < bytes.length).sort((a, b) => a - b);
  const r = new StreamReader(l);
  let from = 0;
  for (const to of [...points, bytes.length]) {
    const got = describeEvents(r.feed(bytes.subarray(from, to)));
    expect(got, `chunk [${from}, ${to})`).toEqual(ref.perByte.slice(from, to).flat());
    from = to;
  }
  // The same "need more" (or finished) state: nothing pending differs, and end() says the same.
  expect(r.done).toBe(ref.done);
  expect(describeEvents(r.end())).toEqual(ref.end);
}

describe("property: chunking does not matter (StreamReader)", () => {
  it(
    "any bytes, any cuts: the same events, from the chunk holding the byte that completes each",
    () => check(fc.property(input, limits, cuts, (bytes, l, fractions) => checkChunked(bytes, l, fractions))),
    PROP_TIMEOUT,
  );

  it(
    "well-formed streams cut anywhere, including inside multi-byte characters and ']]>'",
    () => {
      // A transcript that is accepted whole, so the property is exercised past the first error.
      const stanza = fc
        .array(fc.constantFrom("a", "é", "😀", "—", "]", "]]", "&amp;", "&#x1F600;", "<b/>", "<![CDATA[]]]]>", "<![CDATA[😀]>]]>", "\r\n", " "), { maxLength: 20 })
        .map((parts) => `<message xmlns:x='urn:x' x:y='ü'><body>${parts.join("")}</body></message>`);
      const stream = fc.array(stanza, { minLength: 1, maxLength: 4 }).map((s) => enc.encode(HEADER + s.join("\n") + "</stream:stream>"));
      const big: ReaderLimits = { maxStanzaBytes: 4096, maxDepth: 16 };
      check(
        fc.property(stream, cuts, (bytes, fractions) => {
          const ref = byteByByte(bytes, big);
          expect(ref.perByte.flat().at(-1)).toBe("close");
          checkChunked(bytes, big, fractions);
        }),
      );
    },
    PROP_TIMEOUT,
  );
});

describe("faults the chunking property found", () => {
  // Found at seed 20261202 (first version of the generator): a fatal TextDecoder refuses a whole chunk with no position, so invalid
  // UTF-8 late in a chunk hid everything before it: the elements it completed and an earlier error
  // (here the header's policy-violation), which 1-byte feeding reports first.
  const ff = Uint8Array.from([0xff]);

  it("invalid UTF-8 late in a chunk: the elements before it come out first, then not-well-formed", () => {
    const r = new StreamReader({ maxStanzaBytes: 4096, maxDepth: 16 });
    const events = r.feed(concatBytes([enc.encode(HEADER + "<presence/>"), ff]));
    expect(summarize(events)).toEqual([expect.stringMatching(/^open /), "element <presence xmlns='jabber:server'/>", "error not-well-formed"]);
  });

  it("an error before the invalid byte in the same chunk wins", () => {
    const r = new StreamReader({ maxStanzaBytes: 4096, maxDepth: 16, maxAttributes: 3 });
    expect(summarize(r.feed(concatBytes([enc.encode(HEADER), ff])))).toEqual(["error policy-violation"]);
  });

  it("a character begun in the previous chunk is completed before the invalid byte", () => {
    const r = new StreamReader({ maxStanzaBytes: 4096, maxDepth: 16 });
    const stanza = enc.encode("<message>é</message>");
    const cut = stanza.indexOf(0xa9); // inside 'é' (C3 A9)
    expect(summarize(r.feed(concatBytes([enc.encode(HEADER), stanza.subarray(0, cut)])))).toHaveLength(1);
    expect(summarize(r.feed(concatBytes([stanza.subarray(cut), ff])))).toEqual(["element <message xmlns='jabber:server'>é</message>", "error not-well-formed"]);
  });
});
