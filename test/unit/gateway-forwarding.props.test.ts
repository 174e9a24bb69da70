// Issue 15 property 4: the gateway forwards what the peer sent. For any stanza the gateway accepts,
// the frame the edge reads is byte for byte what the peer wrote, and the size the limit sees is the
// peer's size. The canonical mapping is the identity on each top-level element; what the gateway
// does not forward is the whitespace between elements (RFC 6120 §4.6.1 keepalives), and the stream
// header, which becomes <open/>. Namespaces an element inherits from the header are not added to it:
// the edge reads every frame in the scope of <open/> (src/xml/framing.ts), as the TCP stream did.
//
// Stanzas are drawn from RFC 6120 §11 restricted XML with every legal way of writing a character
// (raw, named entity, decimal and hex references, CDATA), both quote styles, prefixes inherited from
// the header or declared in place, and multi-byte UTF-8; the TCP bytes are cut at random (inside
// characters too). Runs and seed: test/unit/props.ts (PROPS_RUNS, PROPS_SEED, PROPS_PATH; fast-check
// prints the seed and path of a failure).

import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROP_TIMEOUT, RUNS, SEED, check } from "./props.js";
import { FrameReader, StreamReader, headerToOpenFrame, serialize, type StreamEvent } from "../../src/xml/index.js";
import { FRAMING, Peer, header, startFixture, type EdgeSession, type Fixture } from "./gateway-fixtures.js";

// ---------------------------------------------------------------------------------- arbitraries

const CHARS = ["a", "Z", "0", " ", "-", "_", ".", "<", ">", "&", "'", '"', "]", "\t", "\n", "\r", "é", "€", "中", "😀", "\u{10FFFF}", "\uFFFD"];

/** One character as it may legally be written: raw when allowed, else (or by choice) a reference. */
function writeChar(c: string, how: number, quote: string | null, before: string): string {
  const cp = c.codePointAt(0)!;
  const refs = [`&#${cp};`, `&#x${cp.toString(16).toUpperCase()};`];
  const named: Record<string, string> = { "<": "&lt;", ">": "&gt;", "&": "&amp;", "'": "&apos;", '"': "&quot;" };
  if (named[c]) refs.push(named[c]!);
  const mustEscape = c === "<" || c === "&" || c === quote || (c === ">" && quote === null && before.endsWith("]]"));
  if (mustEscape || how % 4 === 3) return refs[how % refs.length]!;
  return c;
}

const textArb = (quote: string | null) =>
  fc.array(fc.tuple(fc.constantFrom(...CHARS), fc.nat(11)), { maxLength: 12 }).map((cs) => {
    let out = "";
    for (const [c, how] of cs) out += writeChar(c, how, quote, out);
    // A text node never ends in ']': the next sibling may begin with ']>' (XML 1.0 §2.4 forbids ']]>').
    return quote === null && out.endsWith("]") ? out + "a" : out;
  });

const cdataArb = fc.array(fc.constantFrom("a", "<", "&", ">", "]", "😀", "é", " "), { maxLength: 10 })
  .map((cs) => `<![CDATA[${cs.join("").replaceAll("]]>", "]] >")}]]>`)
  .filter((s) => !s.slice(9, -3).includes("]]>"));

const attrsArb = (extraNames: string[]) =>
  fc.uniqueArray(fc.constantFrom("a", "b", "id", "type", "xml:lang", "v-1", "ü", ...extraNames), { maxLength: 4 }).chain((names) =>
    fc.tuple(...names.map((n) => fc.tuple(fc.constant(n), fc.constantFrom("'", '"'), fc.constantFrom(" ", "  ", "\n"))
      .chain(([name, q, sp]) => textArb(q).map((v) => `${sp}${name}=${q}${v}${q}`)))).map((parts) => parts.join("")),
  );

interface Node { text: string }
const NAMES = ["body", "x", "item", "a-b", "q.r", "_n1", "ünï"];

/** A child element: unprefixed (inheriting), in its own default namespace, or with a prefix declared on it or inherited (db). */
const elementArb: fc.Memo<Node> = fc.memo((depth: number) =>
  fc.tuple(
    fc.constantFrom(...NAMES),
    fc.constantFrom("none", "own-ns", "own-prefix", "db-prefix"),
    attrsArb([]),
    depth <= 1 ? fc.constant([] as string[]) : fc.array(fc.oneof(textArb(null), cdataArb, elementArb(depth - 1).map((n) => n.text)), { maxLength: 3 }),
    fc.boolean(),
    fc.constantFrom("", " ", "\n"),
  ).map(([name, ns, attrs, children, selfClose, endSpace]) => {
    const qname = ns === "own-prefix" ? `p:${name}` : ns === "db-prefix" ? `db:${name}` : name;
    const decl = ns === "own-ns" ? " xmlns='urn:test:x'" : ns === "own-prefix" ? " xmlns:p='urn:test:p'" : "";
    const body = children.join("");
    if (body === "" && selfClose) return { text: `<${qname}${decl}${attrs}/>` };
    return { text: `<${qname}${decl}${attrs}>${body}</${qname}${endSpace}>` };
  }),
);

const TOP = ["message", "presence", "iq", "db:result", "db:verify"];
const stanzaArb = fc.tuple(fc.constantFrom(...TOP), attrsArb([]), fc.array(fc.oneof(textArb(null), cdataArb, elementArb(3).map((n) => n.text)), { maxLength: 4 }))
  .map(([name, attrs, children]) => `<${name}${attrs}>${children.join("")}</${name}>`);

/** Stanzas with whitespace keepalives between some of them. */
const streamArb = fc.array(fc.tuple(stanzaArb, fc.constantFrom("", "", " ", "\n", "\r\n\t")), { minLength: 1, maxLength: 5 });

/** Cuts `bytes` at random sizes (cuts fall inside multi-byte characters too). */
const cutsArb = fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 20 });
function cut(bytes: Uint8Array, sizes: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let i = 0;
  for (let k = 0; i < bytes.length; k++) {
    const n = sizes[k % sizes.length]!;
    out.push(bytes.subarray(i, i + n));
    i += n;
  }
  return out;
}

const HEADER = header();
const HEADER_ATTRS = { to: "edge.test", from: "peer.test", version: "1.0", "xmlns:db": "jabber:server:dialback" };
const utf8 = (s: string) => Buffer.byteLength(s, "utf8");

function gatewayRead(bytes: Uint8Array, sizes: number[], maxStanzaBytes: number): StreamEvent[] {
  const r = new StreamReader({ maxStanzaBytes, maxDepth: 64 }, { keepSource: true });
  return cut(bytes, sizes).flatMap((c) => r.feed(c));
}

function edgeRead(frames: string[], maxStanzaBytes: number): StreamEvent[] {
  const r = new FrameReader({ maxStanzaBytes, maxDepth: 64 }, { batched: true });
  return [headerToOpenFrame(HEADER_ATTRS), ...frames].flatMap((f) => r.read(f));
}

// ---------------------------------------------------------------------------------- properties

describe("property: the gateway forwards the peer's bytes (issue 15 property 4)", () => {
  it("reader level: each element's source is the peer's text, the edge reads the same element from it, and both limits see the peer's size", () => {
    check(
      fc.property(streamArb, cutsArb, (stream, sizes) => {
        const stanzas = stream.map(([s]) => s);
        const wire = HEADER + stream.map(([s, ws]) => ws + s).join("");
        const bytes = Buffer.from(wire, "utf8");
        const events = gatewayRead(bytes, sizes, 1 << 20);
        const elements = events.filter((e) => e.type === "element");
        // Every stanza generated is one the gateway accepts.
        expect(events.filter((e) => e.type === "error")).toEqual([]);
        expect(elements.map((e) => e.source)).toEqual(stanzas);
        const edge = edgeRead(elements.map((e) => e.source!), 1 << 20);
        expect(edge.map((e) => e.type)).toEqual(["open", ...stanzas.map(() => "element")]);
        expect(edge.slice(1).map((e) => (e.type === "element" ? serialize(e.element) : ""))).toEqual(elements.map((e) => serialize(e.element)));

        // The limit: the largest stanza's own size passes both, one byte less stops both at it.
        const sizesOf = stanzas.map(utf8);
        const max = Math.max(...sizesOf);
        const openSize = utf8(headerToOpenFrame(HEADER_ATTRS));
        if (max - 1 < Math.max(utf8(HEADER), openSize)) return; // the header would hit the limit first
        const first = sizesOf.indexOf(max);
        expect(gatewayRead(bytes, sizes, max).filter((e) => e.type === "element").length).toBe(stanzas.length);
        const cutShort = gatewayRead(bytes, sizes, max - 1);
        expect(cutShort.filter((e) => e.type === "element").length).toBe(first);
        expect(cutShort.at(-1)).toMatchObject({ type: "error", error: { condition: "policy-violation" } });
        expect(edgeRead(stanzas, max).filter((e) => e.type === "element").length).toBe(stanzas.length);
        const edgeShort = edgeRead(stanzas, max - 1);
        expect(edgeShort.filter((e) => e.type === "element").length).toBe(first);
        expect(edgeShort.at(-1)).toMatchObject({ type: "error", error: { condition: "policy-violation" } });
      }),
      1.5,
    );
  }, PROP_TIMEOUT);

  describe("through the gateway's sockets (TLS) to the edge", () => {
    let fx: Fixture;
    let peer: Peer;
    let s: EdgeSession;
    beforeAll(async () => {
      fx = await startFixture({ MAX_STANZA_BYTES: String(1 << 20) });
      peer = await Peer.directTls(fx.gateway.ports.directTls!);
      peer.write(HEADER);
      s = await fx.edge.session();
      await fx.edge.frame(s, /^<open /);
      s.ws.send(`<open xmlns='${FRAMING}' from='edge.test' to='peer.test' id='p1' version='1.0'/>`);
      await peer.wait(/<stream:stream [^>]*id='p1'/);
    });
    afterAll(async () => {
      peer?.socket.destroy();
      await fx?.stop();
    });

    it("the frames the edge receives are the peer's stanzas, byte for byte, in order", async () => {
      let run = 0;
      await fc.assert(
        fc.asyncProperty(streamArb, cutsArb, async (stream, sizes) => {
          run++;
          const marker = `<iq type='result' id='end-${run}'/>`;
          const from = s.frames.length;
          for (const chunk of cut(Buffer.from(stream.map(([st, ws]) => ws + st).join("") + marker, "utf8"), sizes)) peer.socket.write(chunk);
          await fx.edge.frame(s, new RegExp(`id='end-${run}'`));
          const got = s.frames.slice(from).map((f) => Buffer.from(f, "utf8"));
          const want = [...stream.map(([st]) => st), marker].map((t) => Buffer.from(t, "utf8"));
          expect(got.length).toBe(want.length);
          got.forEach((g, i) => expect(g.equals(want[i]!)).toBe(true));
        }),
        // Each run goes through TLS sockets: a fifth of the shared runs.
        { numRuns: Math.max(1, Math.round(RUNS / 5)), seed: SEED, ...(process.env.PROPS_PATH ? { path: process.env.PROPS_PATH } : {}) },
      );
    }, PROP_TIMEOUT);
  });
});
