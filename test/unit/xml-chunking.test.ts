// Bytes arriving in any chunking must give the same events (issue #2 §3): every single split
// point of a realistic transcript, sampled multi-way splits, 1-byte feeding, and error cases.

import { describe, expect, it } from "vitest";
import { StreamReader } from "../../src/xml/index.js";
import { enc, feedCuts, feedSized, HEADER, LIMITS, summarize } from "./xml-helpers.js";

// A realistic inbound S2S transcript: dialback, multi-byte text in bodies and attributes (2-, 3- and
// 4-byte UTF-8), entities and character references, CDATA, nested namespaces, keepalives.
const TRANSCRIPT =
  HEADER +
  "<db:result from='montague.example' to='capulet.example'>b4835385f37fe2895af6c196b59097b16862406db80559900d96bf6fa7d23df3</db:result>\n" +
  "<db:verify from='montague.example' to='capulet.example' id='417GAF25'>225cc5aa6a071133</db:verify> \n\t" +
  "<message from='romeo@montague.example/orchard' to='juliet@capulet.example' type='chat' id='m1' xml:lang='en'>" +
  "<body>Wherefore art thou — ロミオ? 😀 &amp; &lt;3 &#x1F339;</body>" +
  "<html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'><p style='x:y'>é<b>bold</b></p></body></html>" +
  "<active xmlns=\"http://jabber.org/protocol/chatstates\"/></message>" +
  "<presence from='romeo@montague.example/orchard' to='juliet@capulet.example'><show>away</show><status>Zzz… ünïcödé</status>" +
  "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://example.org' ver='QgayPKawpkPSDYmwT/WM94uAlu0='/></presence>" +
  "<iq type='result' id='disco1' from='capulet.example' to='montague.example'><query xmlns='http://jabber.org/protocol/disco#info'>" +
  "<identity category='server' type='im' name='Capulet &apos;s “server”'/><feature var='urn:xmpp:ping'/></query></iq>" +
  "<message to='juliet@capulet.example'><body><![CDATA[if (a < b && c > d) { return \"]]\"; }]]></body></message>" +
  "   </stream:stream>";

const BYTES = enc.encode(TRANSCRIPT);
const WHOLE = summarize(feedSized(BYTES, BYTES.length));

describe("chunk independence", () => {
  it("reads the transcript as one chunk", () => {
    expect(WHOLE.map((l) => l.split(" ")[0])).toEqual([
      "open", "element", "element", "element", "element", "element", "element", "close",
    ]);
    expect(WHOLE.join("\n")).toContain("Wherefore art thou — ロミオ? 😀 &amp; &lt;3 🌹");
    expect(WHOLE.join("\n")).toContain("if (a &lt; b &amp;&amp; c &gt; d) { return \"]]\"; }");
  });

  it("gives the same events for every single split point", () => {
    for (let cut = 1; cut < BYTES.length; cut++) {
      const got = summarize(feedCuts(BYTES, [cut]));
      if (got.join("\n") !== WHOLE.join("\n")) expect({ cut, got }).toEqual({ cut, got: WHOLE });
    }
  });

  it("gives the same events fed one byte at a time", () => {
    expect(summarize(feedSized(BYTES, 1))).toEqual(WHOLE);
  });

  it("gives the same events for 2, 3, 7, 64 and 1024 byte chunks", () => {
    for (const size of [2, 3, 7, 64, 1024]) expect(summarize(feedSized(BYTES, size))).toEqual(WHOLE);
  });

  it("gives the same events for sampled 4-way splits", () => {
    let seed = 42;
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff) >>> 8) / 0x800000;
    for (let n = 0; n < 2000; n++) {
      const cuts = [0, 0, 0].map(() => 1 + Math.floor(rand() * (BYTES.length - 1))).sort((a, b) => a - b);
      const got = summarize(feedCuts(BYTES, cuts));
      if (got.join("\n") !== WHOLE.join("\n")) expect({ cuts, got }).toEqual({ cuts, got: WHOLE });
    }
  });

  it("gives the same events for text fed one UTF-16 unit at a time (pairs cut in two)", () => {
    const r = new StreamReader(LIMITS);
    const events = [];
    for (const unit of TRANSCRIPT.split("")) events.push(...r.feed(unit));
    expect(summarize(events)).toEqual(WHOLE);
  });

  it("splits inside a multi-byte character at every byte", () => {
    for (const ch of ["é", "—", "😀"]) {
      const bytes = enc.encode(HEADER + `<message a='${ch}'><body>${ch}</body></message>`);
      const whole = summarize(feedSized(bytes, bytes.length));
      const at = bytes.length - enc.encode(`${ch}</body></message>`).length;
      for (let k = 1; k < enc.encode(ch).length; k++) expect(summarize(feedCuts(bytes, [at + k]))).toEqual(whole);
    }
  });

  it("finds ']]>' cut at any point, and keeps ']' runs that do not end the section", () => {
    const bytes = enc.encode(HEADER + "<message><body><![CDATA[a]]]]><![CDATA[>]b]]]></body></message>");
    const whole = summarize(feedSized(bytes, bytes.length));
    expect(whole[1]).toBe("element <message xmlns='jabber:server'><body>a]]&gt;]b]</body></message>");
    for (let cut = HEADER.length; cut < bytes.length; cut++) expect(summarize(feedCuts(bytes, [cut]))).toEqual(whole);
    expect(summarize(feedSized(bytes, 1))).toEqual(whole);
  });

  it("decodes and normalizes attribute values and text identically for every split point", () => {
    const bytes = enc.encode(HEADER + "<message a='x\r\ny\tz&#10;&amp;' b=\"'\" c=''><body>a\r\nb\rc&#13;&lt;</body></message><presence/>");
    const whole = summarize(feedSized(bytes, bytes.length));
    expect(whole[1]).toBe("element <message a='x y z&#10;&amp;' b='&apos;' c='' xmlns='jabber:server'><body>a\nb\nc&#13;&lt;</body></message>");
    for (let cut = 1; cut < bytes.length; cut++) expect(summarize(feedCuts(bytes, [cut]))).toEqual(whole);
  });

  it("refuses '<' in an attribute value for every split point", () => {
    const bytes = enc.encode(HEADER + "<presence/><message a='x<y'/>");
    const whole = summarize(feedSized(bytes, bytes.length));
    expect(whole.at(-1)).toBe("error not-well-formed");
    for (let cut = 1; cut < bytes.length; cut++) expect(summarize(feedCuts(bytes, [cut]))).toEqual(whole);
  });

  it("reports errors identically for every split point, after the same elements", () => {
    const bad = enc.encode(HEADER + "<presence/><message><body>x</body><!-- c --></message>");
    const whole = summarize(feedSized(bad, bad.length));
    expect(whole.slice(1)).toEqual(["element <presence xmlns='jabber:server'/>", "error restricted-xml"]);
    for (let cut = 1; cut < bad.length; cut++) expect(summarize(feedCuts(bad, [cut]))).toEqual(whole);
  });

  it("reports an illegal character identically however it is cut", () => {
    const bad = enc.encode(HEADER + "<presence/><message><body>é\u0001</body></message>");
    const whole = summarize(feedSized(bad, bad.length));
    expect(whole.slice(1)).toEqual(["element <presence xmlns='jabber:server'/>", "error not-well-formed"]);
    for (let cut = 1; cut < bad.length; cut++) expect(summarize(feedCuts(bad, [cut]))).toEqual(whole);
  });
});
