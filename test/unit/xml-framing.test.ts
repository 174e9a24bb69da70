// RFC 7395 / XEP-0468 framing: one standalone element per WebSocket message.

import { Element } from "ltx";
import { describe, expect, it } from "vitest";
import {
  closeFrame, FrameReader, frameElement, NS_DIALBACK, NS_FRAMING, NS_FRAMING_SERVER, NS_SERVER, NS_STREAM, openFrame,
  headerToOpenFrame,
} from "../../src/xml/index.js";
import { elementOf, summarize } from "./xml-helpers.js";

const LIMITS = { maxStanzaBytes: 1024, maxDepth: 8 };
const OPEN = `<open xmlns='${NS_FRAMING_SERVER}' from='montague.example' to='capulet.example' version='1.0' xmlns:db='${NS_DIALBACK}'/>`;

function opened(): FrameReader {
  const r = new FrameReader(LIMITS);
  expect(r.read(OPEN).map((e) => e.type)).toEqual(["open"]);
  return r;
}
const condition = (r: FrameReader, msg: string | Uint8Array) => summarize(r.read(msg)).at(-1);

describe("FrameReader", () => {
  it("opens with XEP-0468's namespace and reports the attributes", () => {
    const r = new FrameReader(LIMITS);
    expect(summarize(r.read(OPEN))).toEqual([
      `open open {"xmlns":"${NS_FRAMING_SERVER}","from":"montague.example","to":"capulet.example","version":"1.0","xmlns:db":"${NS_DIALBACK}"}`,
    ]);
    expect(r.framingNamespace).toBe(NS_FRAMING_SERVER);
  });

  it("also opens with RFC 7395's namespace", () => {
    const r = new FrameReader(LIMITS);
    expect(r.read(`<open xmlns='${NS_FRAMING}' to='capulet.example' version='1.0'/>`)[0]!.type).toBe("open");
    expect(r.framingNamespace).toBe(NS_FRAMING);
  });

  it("refuses a first message that is not <open/>, or <open/> in another namespace", () => {
    expect(condition(new FrameReader(LIMITS), "<message xmlns='jabber:server'/>")).toBe("error invalid-namespace");
    expect(condition(new FrameReader(LIMITS), "<open xmlns='jabber:server'/>")).toBe("error invalid-namespace");
    expect(condition(new FrameReader(LIMITS), `<stream:stream xmlns:stream='${NS_STREAM}'/>`)).toBe("error invalid-namespace");
  });

  it("reads stanzas that declare jabber:server and ones that inherit it", () => {
    const r = opened();
    expect(summarize(r.read("<message xmlns='jabber:server' to='a@b'><body>x</body></message>"))).toEqual([
      "element <message xmlns='jabber:server' to='a@b'><body>x</body></message>",
    ]);
    const [inherited] = r.read("<message to='a@b'><body>x</body></message>");
    expect(summarize([inherited!])).toEqual(["element <message to='a@b' xmlns='jabber:server'><body>x</body></message>"]);
    expect(elementOf(inherited).getChild("body")!.getNS()).toBe(NS_SERVER);
  });

  it("resolves db: from the frame itself or from <open/>, and stream: by convention", () => {
    const r = opened();
    const [a] = r.read(`<db:result xmlns:db='${NS_DIALBACK}' from='montague.example' to='capulet.example'>k</db:result>`);
    const [b] = r.read("<db:result from='montague.example' to='capulet.example'>k</db:result>");
    const [c] = r.read("<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>");
    expect(elementOf(a).is("result", NS_DIALBACK)).toBe(true);
    expect(elementOf(b).is("result", NS_DIALBACK)).toBe(true);
    expect(elementOf(c).is("error", NS_STREAM)).toBe(true);
  });

  it("refuses a prefix nobody declared", () => {
    expect(condition(opened(), "<foo:bar/>")).toBe("error bad-namespace-prefix");
  });

  it("wants exactly one complete element per message (RFC 7395 §3.3.3)", () => {
    expect(condition(opened(), "<message><body>")).toBe("error not-well-formed");
    expect(condition(opened(), "<presence/><presence/>")).toBe("error not-well-formed");
    expect(condition(opened(), "text")).toBe("error not-well-formed");
  });

  it("applies restricted XML and the limits per message", () => {
    expect(condition(opened(), "<message><!-- x --></message>")).toBe("error restricted-xml");
    expect(condition(opened(), "<message>&foo;</message>")).toBe("error restricted-xml");
    expect(condition(opened(), `<message><body>${"x".repeat(1024)}</body></message>`)).toBe("error policy-violation");
    expect(condition(opened(), "<a>".repeat(9) + "</a>".repeat(9))).toBe("error policy-violation");
    expect(condition(opened(), new Uint8Array([0x3c, 0x61, 0xff, 0x2f, 0x3e]))).toBe("error not-well-formed");
  });

  it("ignores whitespace-only messages and decodes binary ones", () => {
    const r = opened();
    expect(r.read(" \n")).toEqual([]);
    expect(summarize(r.read(new TextEncoder().encode("<presence/>")))).toEqual(["element <presence xmlns='jabber:server'/>"]);
  });

  it("closes on <close/>, keeping see-other-uri, and ignores later messages", () => {
    const r = opened();
    expect(summarize(r.read(`<close xmlns='${NS_FRAMING_SERVER}' see-other-uri='wss://other.example/xmpp'/>`))).toEqual([
      `close {"xmlns":"${NS_FRAMING_SERVER}","see-other-uri":"wss://other.example/xmpp"}`,
    ]);
    expect(r.done).toBe(true);
    expect(r.read("<presence/>")).toEqual([]);
  });

  it("reports a new <open/> as a restart", () => {
    const r = opened();
    expect(r.read(OPEN)[0]!.type).toBe("open");
  });

  it("stops after an error", () => {
    const r = opened();
    r.read("<a><!--x--></a>");
    expect(r.read("<presence/>")).toEqual([]);
    expect(r.error?.condition).toBe("restricted-xml");
  });
});

describe("FrameReader, batched (the edge's link from its own TCP gateway)", () => {
  const batched = () => new FrameReader(LIMITS, { batched: true });
  const STANZAS = ["<message to='a@b' id='1'><body>x</body></message>", "<presence/>", `<db:result from='montague.example' to='capulet.example'>k</db:result>`];

  it("reads several complete frames from one message, in order, each as it would be alone", () => {
    const one = opened();
    const alone = STANZAS.map((x) => summarize(one.read(x))[0]);
    const r = batched();
    const events = r.read(OPEN + STANZAS.join("\n"));
    expect(events[0]!.type).toBe("open");
    expect(summarize(events.slice(1))).toEqual(alone);
    expect(elementOf(events[3]).is("result", NS_DIALBACK)).toBe(true); // xmlns:db from the <open/> in the same message
  });

  it("gives the same events for any split at frame boundaries", () => {
    const all = [OPEN, ...STANZAS, `<close xmlns='${NS_FRAMING_SERVER}'/>`];
    const whole = summarize(batched().read(all.join("")));
    for (let cut = 1; cut < all.length; cut++) {
      const r = batched();
      expect(summarize([...r.read(all.slice(0, cut).join("")), ...r.read(all.slice(cut).join(""))])).toEqual(whole);
    }
    expect(whole.at(-1)).toMatch(/^close/);
  });

  it("refuses a message that ends inside a frame, and keeps the frames before it", () => {
    const r = batched();
    const events = r.read(OPEN + "<presence/><message><body>");
    expect(summarize(events).slice(1)).toEqual(["element <presence xmlns='jabber:server'/>", "error not-well-formed"]);
    expect(events[0]!.type).toBe("open");
    expect(r.read("</body></message>")).toEqual([]);
  });

  it("applies restricted XML, the byte limit and the depth limit to each frame", () => {
    const bad = (frame: string) => {
      const r = batched();
      return summarize(r.read(OPEN + "<presence/>" + frame)).slice(1);
    };
    expect(bad("<message><!-- x --></message>")).toEqual(["element <presence xmlns='jabber:server'/>", "error restricted-xml"]);
    expect(bad(`<message><body>${"x".repeat(1024)}</body></message>`).at(-1)).toBe("error policy-violation");
    expect(bad("<a>".repeat(9) + "</a>".repeat(9)).at(-1)).toBe("error policy-violation");
    // Frames that together exceed the byte limit are fine: it is per frame.
    expect(bad(`<message><body>${"x".repeat(600)}</body></message><message><body>${"x".repeat(600)}</body></message>`).at(-1)).toMatch(/^element/);
  });

  it("wants <open/> first, and reads nothing after <close/>", () => {
    expect(summarize(batched().read("<presence/>")).at(-1)).toBe("error invalid-namespace");
    const r = batched();
    const events = r.read(OPEN + `<close xmlns='${NS_FRAMING_SERVER}'/><presence/>`);
    expect(events.map((e) => e.type)).toEqual(["open", "close"]);
    expect(r.done).toBe(true);
  });

  it("a restart <open/> in the middle of a message sets the scope for the frames after it", () => {
    const r = batched();
    const other = `<open xmlns='${NS_FRAMING_SERVER}' to='capulet.example' version='1.0' xmlns:x='urn:example:x'/>`;
    const events = r.read(OPEN + other + "<message><x:y/></message>");
    expect(events.map((e) => e.type)).toEqual(["open", "open", "element"]);
    expect(elementOf(events[2]).getChild("y", "urn:example:x")).toBeDefined();
  });
});

describe("framing writer", () => {
  it("writes <open/> and <close/> in XEP-0468's namespace by default", () => {
    expect(openFrame({ from: "capulet.example", to: "montague.example", id: "s1", version: "1.0" })).toBe(
      `<open xmlns='${NS_FRAMING_SERVER}' from='capulet.example' to='montague.example' id='s1' version='1.0'/>`,
    );
    expect(closeFrame()).toBe(`<close xmlns='${NS_FRAMING_SERVER}'/>`);
    expect(closeFrame({ "see-other-uri": "wss://x/?a=1&b=2" }, NS_FRAMING)).toBe(
      `<close xmlns='${NS_FRAMING}' see-other-uri='wss://x/?a=1&amp;b=2'/>`,
    );
  });

  it("turns a stream header's attributes into <open/>: the framing namespace replaces the content and stream ones, xmlns:db stays", () => {
    const attrs = { xmlns: NS_SERVER, "xmlns:stream": NS_STREAM, "xmlns:db": NS_DIALBACK, from: "capulet.example", to: "montague.example", version: "1.0" };
    expect(headerToOpenFrame(attrs)).toBe(
      `<open xmlns='${NS_FRAMING_SERVER}' xmlns:db='${NS_DIALBACK}' from='capulet.example' to='montague.example' version='1.0'/>`,
    );
    expect(headerToOpenFrame({ to: "montague.example" }, NS_FRAMING)).toBe(`<open xmlns='${NS_FRAMING}' to='montague.example'/>`);
  });

  it("makes elements standalone without touching the caller's element", () => {
    const el = new Element("db:result", { from: "capulet.example", to: "montague.example" }).t("k");
    expect(frameElement(el)).toBe(
      `<db:result from='capulet.example' to='montague.example' xmlns:db='${NS_DIALBACK}'>k</db:result>`,
    );
    expect(el.attrs["xmlns:db"]).toBeUndefined();
    expect(frameElement(new Element("message", { to: "a@b" }).c("body").t("hi").root())).toBe(
      "<message to='a@b' xmlns='jabber:server'><body>hi</body></message>",
    );
    const err = new Element("stream:error").c("host-unknown", { xmlns: "urn:ietf:params:xml:ns:xmpp-streams" }).root();
    expect(frameElement(err)).toBe(
      `<stream:error xmlns:stream='${NS_STREAM}'><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`,
    );
  });

  it("declares the content namespace on a prefixed element whose children need it", () => {
    const el = new Element("db:verify", { id: "1" }).c("x").root();
    expect(frameElement(el)).toBe(`<db:verify id='1' xmlns:db='${NS_DIALBACK}' xmlns='jabber:server'><x/></db:verify>`);
  });

  it("refuses an undeclared unknown prefix", () => {
    expect(() => frameElement(new Element("foo:bar"))).toThrow(TypeError);
  });

  it("round-trips through FrameReader", () => {
    const r = new FrameReader(LIMITS);
    expect(r.read(openFrame({ to: "capulet.example", "xmlns:db": NS_DIALBACK }))[0]!.type).toBe("open");
    const sent = new Element("message", { to: "juliet@capulet.example", a: "x\ny'\"<&" }).c("body").t("a\r\n<b>&").root();
    const [e] = r.read(frameElement(sent));
    expect(elementOf(e).attrs.a).toBe("x\ny'\"<&");
    expect(elementOf(e).getChildText("body")).toBe("a\r\n<b>&");
    expect(r.read(closeFrame())[0]!.type).toBe("close");
  });
});
