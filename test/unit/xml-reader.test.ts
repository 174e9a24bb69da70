import { describe, expect, it } from "vitest";
import { NS_DIALBACK, NS_SERVER, NS_STREAM, StreamReader } from "../../src/xml/index.js";
import { elementOf, enc, errorOf, HEADER, LIMITS, read } from "./xml-helpers.js";

describe("StreamReader: events", () => {
  it("reports the header with its attributes and namespace declarations", () => {
    const [open] = read(HEADER);
    expect(open).toBe(
      `open stream:stream {"xmlns":"jabber:server","xmlns:stream":"http://etherx.jabber.org/streams",` +
        `"xmlns:db":"jabber:server:dialback","from":"montague.example","to":"capulet.example","version":"1.0"}`,
    );
  });

  it("emits each top-level element standalone, with inherited namespaces declared on it", () => {
    const r = new StreamReader(LIMITS);
    const events = r.feed(
      enc.encode(
        HEADER +
          "<db:result from='montague.example' to='capulet.example'>k3y</db:result>" +
          "<message from='romeo@montague.example' to='juliet@capulet.example'><body>hi</body></message>" +
          "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>",
      ),
    );
    expect(events.map((e) => e.type)).toEqual(["open", "element", "element", "element"]);
    const [, db, msg, features] = events.map((e) => (e.type === "element" ? e.element : undefined));
    expect(db!.parent).toBeNull();
    expect(db!.is("result", NS_DIALBACK)).toBe(true);
    expect(db!.attrs["xmlns:db"]).toBe(NS_DIALBACK);
    expect(db!.getText()).toBe("k3y");
    expect(msg!.is("message", NS_SERVER)).toBe(true);
    expect(msg!.getChild("body")!.getNS()).toBe(NS_SERVER);
    expect(msg!.getChildText("body")).toBe("hi");
    expect(features!.is("features", NS_STREAM)).toBe(true);
    expect(features!.getChild("starttls")!.getNS()).toBe("urn:ietf:params:xml:ns:xmpp-tls");
  });

  it("keeps an element's own namespace declarations and prefixes", () => {
    const out = read(
      HEADER +
        "<iq type='get' id='1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>" +
        "<message><x:y xmlns:x='urn:x' x:a='1'/></message>",
    );
    expect(out.slice(1)).toEqual([
      "element <iq type='get' id='1' xmlns='jabber:server'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
      "element <message xmlns='jabber:server'><x:y xmlns:x='urn:x' x:a='1'/></message>",
    ]);
  });

  it("ends with close at </stream:stream> and ignores what follows", () => {
    const r = new StreamReader(LIMITS);
    expect(r.feed(HEADER + "<presence/></stream:stream><junk").map((e) => e.type)).toEqual([
      "open",
      "element",
      "close",
    ]);
    expect(r.done).toBe(true);
    expect(r.feed("<more/>")).toEqual([]);
  });

  it("drops whitespace keepalives between stanzas (RFC 6120 §4.6.1)", () => {
    expect(read(HEADER + " \n\t\r\n<presence/>   \n ").slice(1)).toEqual(["element <presence xmlns='jabber:server'/>"]);
  });

  it("decodes the predefined entities, character references and CDATA", () => {
    const out = read(HEADER + "<message a='&lt;&gt;&amp;&quot;&apos;&#65;&#x42;'><body>&lt;&#x1F600;&#233;<![CDATA[<&>]]></body></message>");
    expect(out[1]).toBe("element <message a='&lt;&gt;&amp;&quot;&apos;AB' xmlns='jabber:server'><body>&lt;😀é&lt;&amp;&gt;</body></message>");
  });

  it("normalizes line ends and attribute whitespace like any XML parser (XML 1.0 §2.11, §3.3.3)", () => {
    const r = new StreamReader(LIMITS);
    const [, el] = r.feed(HEADER + "<message a='x\r\ny\tz&#10;'><body>a\r\nb\rc&#13;</body></message>");
    expect(elementOf(el).attrs.a).toBe("x y z\n");
    expect(elementOf(el).getChildText("body")).toBe("a\nb\nc\r");
  });

  it("accepts a BOM, no XML declaration, and single or double quotes", () => {
    const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...enc.encode(HEADER.replace("<?xml version='1.0'?>", "").replace(/'/g, '"'))]);
    const r = new StreamReader(LIMITS);
    expect(r.feed(bytes).map((e) => e.type)).toEqual(["open"]);
  });

  it("accepts an XML declaration with UTF-8 encoding and refuses other encodings", () => {
    expect(errorOf(HEADER.replace("version='1.0'?>", "version='1.0' encoding='UTF-8'?>"))).toBeUndefined();
    expect(errorOf(HEADER.replace("version='1.0'?>", "version='1.0' encoding='ISO-8859-1'?>"))).toBe("unsupported-encoding");
  });

  it("starts over after reset() (RFC 6120 §4.3.3 stream restart)", () => {
    const r = new StreamReader(LIMITS);
    r.feed(HEADER + "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    r.reset();
    const again = r.feed(HEADER + "<presence/>");
    expect(again.map((e) => e.type)).toEqual(["open", "element"]);
  });

  it("accepts text already decoded (strings), including a surrogate pair cut in two", () => {
    const r = new StreamReader(LIMITS);
    const text = HEADER + "<message><body>😀</body></message>";
    const cut = text.indexOf("😀") + 1;
    const events = [...r.feed(text.slice(0, cut)), ...r.feed(text.slice(cut))];
    expect(events.map((e) => e.type)).toEqual(["open", "element"]);
  });

  it("reports a UTF-8 sequence cut off by the end of the transport", () => {
    const r = new StreamReader(LIMITS);
    r.feed(enc.encode(HEADER + "<message><body>"));
    r.feed(new Uint8Array([0xe2, 0x82]));
    expect(r.end().map((e) => (e.type === "error" ? e.error.condition : e.type))).toEqual(["not-well-formed"]);
  });

  it("emits the error as the last event, after the elements that came before it", () => {
    const out = read(HEADER + "<presence/><!-- no -->");
    expect(out.slice(1)).toEqual(["element <presence xmlns='jabber:server'/>", "error restricted-xml"]);
  });
});

describe("StreamReader: stream namespaces (RFC 6120 §4.8)", () => {
  it("refuses a wrong stream namespace", () => {
    expect(errorOf(HEADER.replace("http://etherx.jabber.org/streams", "urn:wrong"))).toBe("invalid-namespace");
  });

  it("refuses a stream element that is not 'stream'", () => {
    expect(errorOf(HEADER.replace("<stream:stream ", "<stream:strem "))).toBe("invalid-namespace");
  });

  it("refuses the client content namespace on a server stream, or none", () => {
    expect(errorOf(HEADER.replace("xmlns='jabber:server'", "xmlns='jabber:client'"))).toBe("invalid-namespace");
    expect(errorOf(HEADER.replace("xmlns='jabber:server'", ""))).toBe("invalid-namespace");
  });

  it("refuses an unbound stream prefix", () => {
    expect(errorOf(HEADER.replace("xmlns:stream=", "xmlns:other="))).toBe("bad-namespace-prefix");
  });

  it("accepts another prefix bound to the stream namespace", () => {
    const h = HEADER.replace("<stream:stream", "<s:stream").replace("xmlns:stream=", "xmlns:s=");
    expect(read(h + "<presence/></s:stream>").map((l) => l.split(" ")[0])).toEqual(["open", "element", "close"]);
  });

  it("refuses an element with an unbound prefix", () => {
    expect(errorOf(HEADER + "<foo:message/>")).toBe("bad-namespace-prefix");
    expect(errorOf(HEADER + "<message><x:y/></message>")).toBe("bad-namespace-prefix");
    expect(errorOf(HEADER + "<message x:a='1'/>")).toBe("bad-namespace-prefix");
    expect(errorOf(HEADER.replace(" xmlns:db='jabber:server:dialback'", "") + "<db:result/>")).toBe("bad-namespace-prefix");
  });

  it("treats prefixes and attributes named like Object.prototype members as plain names", () => {
    const h = HEADER.replace("version='1.0'>", "version='1.0' xmlns:__proto__='urn:p' xmlns:constructor='urn:c'>");
    const out = read(h + "<message __proto__='1' constructor='2'><__proto__:a/><constructor:b toString='3'/></message>");
    expect(out[1]).toBe(
      "element <message __proto__='1' constructor='2' xmlns='jabber:server' xmlns:__proto__='urn:p' xmlns:constructor='urn:c'>" +
        "<__proto__:a/><constructor:b toString='3'/></message>",
    );
    expect(errorOf(HEADER + "<message constructor='1' constructor='2'/>")).toBe("not-well-formed");
  });

  it("scopes a declaration to its element", () => {
    expect(errorOf(HEADER + "<message><a xmlns:x='urn:x'><x:b/></a><x:c/></message>")).toBe("bad-namespace-prefix");
  });

  it("refuses illegal declarations and malformed qualified names", () => {
    expect(errorOf(HEADER + "<message xmlns:x=''/>")).toBe("not-well-formed");
    expect(errorOf(HEADER + "<message xmlns:xmlns='urn:x'/>")).toBe("not-well-formed");
    expect(errorOf(HEADER + "<message xmlns:xml='urn:x'/>")).toBe("not-well-formed");
    expect(errorOf(HEADER + "<a:b:c xmlns:a='urn:a'/>")).toBe("not-well-formed");
    expect(errorOf(HEADER + "<message xml:lang='en'/>")).toBeUndefined();
  });
});
