// Issue 10 defect 6: the gateway forwards each element exactly as the peer wrote it. Re-escaping
// used to turn 80 KB of '>' into 320 KB of '&gt;' (the edge then killed the whole stream with
// policy-violation though the stanza was under MAX_STANZA_BYTES); now the frame the edge reads is
// the peer's bytes, so the limit sees the peer's size, and a stanza at exactly MAX_STANZA_BYTES with
// the worst characters passes the gateway and the edge's frame reader alike.

import { afterEach, describe, expect, it } from "vitest";
import { FrameReader } from "../../src/xml/index.js";
import { FRAMING, Peer, header, startFixture, until, type EdgeSession, type Fixture } from "./gateway-fixtures.js";

const LIMIT = 262_144; // MAX_STANZA_BYTES default, the same on the gateway and the edge

let fx: Fixture | undefined;
afterEach(async () => {
  await fx?.stop();
  fx = undefined;
});

/** A direct TLS peer whose stream is open at the (fake) edge; returns the <open/> frame too. */
async function openStream(f: Fixture): Promise<{ peer: Peer; s: EdgeSession; open: string }> {
  const peer = await Peer.directTls(f.gateway.ports.directTls!);
  peer.write(header());
  const s = await f.edge.session();
  const open = await f.edge.frame(s, /^<open /);
  s.ws.send(`<open xmlns='${FRAMING}' from='edge.test' to='peer.test' id='f1' version='1.0'/>`);
  await peer.wait(/<stream:stream [^>]*id='f1'/);
  return { peer, s, open };
}

/** `prefix + filler + suffix` of exactly `bytes` bytes of UTF-8: `unit` repeated, then ASCII padding. */
function sized(bytes: number, prefix: string, unit: string, suffix: string): string {
  const fixed = Buffer.byteLength(prefix + suffix);
  const u = Buffer.byteLength(unit);
  const n = Math.floor((bytes - fixed) / u);
  const text = prefix + unit.repeat(n) + "a".repeat(bytes - fixed - n * u) + suffix;
  expect(Buffer.byteLength(text)).toBe(bytes);
  return text;
}

// The characters that grow most when re-escaped, each as a peer may legally write it.
const WORST: Array<{ what: string; make(bytes: number, id: string): string }> = [
  { what: "'>' in text (4x as &gt;)", make: (b, id) => sized(b, `<message from='a@peer.test' to='b@edge.test' id='${id}'><body>`, ">", "</body></message>") },
  { what: "'\"' in a single-quoted attribute (6x as &quot;)", make: (b, id) => sized(b, `<message from='a@peer.test' to='b@edge.test' id='${id}'><x xmlns='urn:t' v='`, '"', "'/></message>") },
  { what: "\"'\" in a double-quoted attribute (6x as &apos;)", make: (b, id) => sized(b, `<message from='a@peer.test' to='b@edge.test' id='${id}'><x xmlns='urn:t' v="`, "'", '"/></message>') },
  { what: "'&amp;' and '&#60;' references", make: (b, id) => sized(b, `<message from='a@peer.test' to='b@edge.test' id='${id}'><body>`, "&amp;&#60;", "</body></message>") },
  { what: "3-byte UTF-8 (€)", make: (b, id) => sized(b, `<message from='a@peer.test' to='b@edge.test' id='${id}'><body>`, "€", "</body></message>") },
  { what: "4-byte UTF-8 (😀) in text and an attribute", make: (b, id) => sized(b, `<message from='a@peer.test' to='b@edge.test' id='${id}' xml:lang='😀'><body>`, "😀", "</body></message>") },
  { what: "CDATA holding ']]&gt;'-like text and '<'", make: (b, id) => sized(b, `<message from='a@peer.test' to='b@edge.test' id='${id}'><body><![CDATA[`, "<]]", "]]></body></message>") },
];

describe("the gateway forwards the peer's bytes (issue 10 defect 6)", () => {
  it.each(WORST)("a stanza of exactly MAX_STANZA_BYTES with $what reaches the edge byte for byte, and the edge's frame reader accepts it", async ({ make }) => {
    fx = await startFixture({ MAX_STANZA_BYTES: String(LIMIT) });
    fx.edge.batched = true;
    const { peer, s, open } = await openStream(fx);
    const stanza = make(LIMIT, "exact");
    peer.write(stanza);
    const frame = await fx.edge.frame(s, /id='exact'/);
    expect(Buffer.from(frame, "utf8").equals(Buffer.from(stanza, "utf8"))).toBe(true);
    // The edge reads it with the same limit (durable-objects/lib/codec.ts: FrameReader, batched).
    const edge = new FrameReader({ maxStanzaBytes: LIMIT, maxDepth: 64 }, { batched: true });
    expect(edge.read(open).map((e) => e.type)).toEqual(["open"]);
    const events = edge.read(frame);
    expect(events.map((e) => e.type)).toEqual(["element"]);
    expect(events[0]!.type === "element" && events[0]!.element.is("message", "jabber:server")).toBe(true);
    // The stream lives on.
    peer.write("<message from='a@peer.test' to='b@edge.test' id='after'/>");
    await fx.edge.frame(s, /id='after'/);
  }, 30_000);

  it("one byte over MAX_STANZA_BYTES: the gateway answers policy-violation, and nothing of that stanza reaches the edge", async () => {
    fx = await startFixture({ MAX_STANZA_BYTES: String(LIMIT) });
    const { peer, s } = await openStream(fx);
    peer.write(WORST[0]!.make(LIMIT + 1, "over"));
    await peer.wait(/<stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
    await until(() => s.closed, "the edge WebSocket to close");
    expect(s.frames.some((f) => f.includes("id='over'"))).toBe(false);
    expect(s.frames.at(-1)).toBe(`<close xmlns='${FRAMING}'/>`);
  }, 30_000);

  it("a stanza split across many TCP writes, inside multi-byte characters, still arrives as the peer's bytes", async () => {
    fx = await startFixture();
    const { peer, s } = await openStream(fx);
    const stanza = "<message from='a@peer.test' to='b@edge.test' id='split'><body>é€😀 &gt;&lt;&amp; '\"</body><x xmlns='urn:t' a=\"'&quot;\"/></message>";
    const bytes = Buffer.from(stanza, "utf8");
    for (let i = 0; i < bytes.length; i += 3) {
      peer.socket.write(bytes.subarray(i, i + 3));
      await new Promise((r) => setImmediate(r));
    }
    const frame = await fx.edge.frame(s, /id='split'/);
    expect(frame).toBe(stanza);
  });

  it("refuses a top-level element in the RFC 7395 framing namespace from a TCP peer (it would read as <open/> or <close/> at the edge)", async () => {
    fx = await startFixture();
    const { peer, s } = await openStream(fx);
    peer.write(`<close xmlns='${FRAMING}'/>`);
    await peer.wait(/<stream:error><unsupported-stanza-type xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
    await until(() => s.closed, "the edge WebSocket to close");
    expect(s.frames.filter((f) => f.startsWith("<close")).length).toBe(1);
  });
});
