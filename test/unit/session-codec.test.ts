// The inbound WebSocket codec (durable-objects/lib/codec.ts): what a session keeps of the peer's
// <open/> must prime a new reader after hibernation, in one-frame and in batched framing.
import { describe, expect, it } from "vitest";
import { FrameCodec } from "../../durable-objects/lib/codec.js";

const LIMITS = { maxStanzaBytes: 4096, maxDepth: 8, maxAttributes: 128, maxNamespaceDeclarations: 32 };
const OPEN = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing-server' xmlns:x='urn:example:x' from='peer.test' to='edge.test' version='1.0'/>";
const STANZA = "<message from='a@peer.test' to='b@edge.test'><x:y/></message>";

describe("FrameCodec after a restart", () => {
  for (const batched of [false, true]) {
    it(`${batched ? "batched" : "one frame per message"}: keeps the <open/> alone, and a reader primed with it knows its prefixes`, () => {
      const first = new FrameCodec(LIMITS, undefined, batched);
      // Batched, the <open/> comes with other frames in the same message; only the <open/> is kept.
      const events = first.decode(batched ? OPEN + STANZA : OPEN);
      expect(events[0]!.type).toBe("open");
      expect(first.lastOpen).toMatch(/^<open [^>]*\/>$/);
      expect(first.lastOpen).toContain("xmlns:x='urn:example:x'");
      const resumed = new FrameCodec(LIMITS, first.lastOpen, batched);
      const [e] = resumed.decode(STANZA);
      expect(e!.type).toBe("element");
      if (e?.type === "element") expect(e.element.getChild("y", "urn:example:x")).toBeDefined();
    });
  }

  it("a batched reader that was never primed refuses the same stanza (no <open/> yet)", () => {
    const fresh = new FrameCodec(LIMITS, undefined, true);
    expect(fresh.decode(STANZA).at(-1)!.type).toBe("error");
  });
});

describe("TcpCodec: SASL <success/> restarts the stream (RFC 6120 §6.4.6, XEP-0178 as initiator)", () => {
  it("reads the peer's new XML declaration and header after <success/>", async () => {
    const { TcpCodec } = await import("../../durable-objects/lib/codec.js");
    const c = new TcpCodec({ maxStanzaBytes: 65536, maxDepth: 16, maxAttributes: 64, maxNamespaceDeclarations: 16 });
    const enc = new TextEncoder();
    c.feed(enc.encode("<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' id='a'>"));
    const ok = c.feed(enc.encode("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"));
    expect(ok.map((e) => e.type)).toEqual(["element"]);
    const again = c.feed(enc.encode("<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' id='b'>"));
    expect(again.map((e) => e.type)).toEqual(["open"]);
  });
});
