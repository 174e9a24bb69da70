// XML reader throughput (issue #2 §5): our StreamReader against ltx's bare incremental parser
// (SaxLtx, ltx/src/parsers/ltx.js) on the same bytes, fed in 1-byte, 1 KiB and 64 KiB chunks.
// Both decode with a streaming TextDecoder (SaxLtx calls toString() on its input, which would turn a
// Uint8Array into "60,115,..."). The baseline only tokenizes: no elements, no checks, no limits;
// the @xmpp/xml Parser row (SaxLtx + element building, still no checks) is for context.
// Target: >= 0.7x of bare ltx at 64 KiB.

import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import SaxLtx from "ltx/src/parsers/ltx.js";
// @ts-expect-error @xmpp/xml ships no type declarations
import XmppParser from "@xmpp/xml/lib/Parser.js";
import { StreamReader, type ReaderLimits } from "../src/xml/index.js";

const HEADER =
  "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'" +
  " xmlns:db='jabber:server:dialback' from='montague.example' to='capulet.example' version='1.0' id='a1b2c3'>";

/** A realistic S2S mix: chat messages (some non-ASCII, some XHTML-IM), presence with caps, iq. */
function transcript(stanzas: number): { text: string; stanzas: number } {
  const words = ["wherefore", "art", "thou", "Romeo", "deny", "thy", "father", "and", "refuse", "name", "ロミオ", "café", "—", "😀", "&amp;", "&lt;3"];
  let seed = 7;
  const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff) >>> 8) % n;
  const sentence = (n: number) => Array.from({ length: n }, () => words[rand(words.length)]).join(" ");
  const parts = [HEADER];
  for (let i = 0; i < stanzas; i++) {
    const from = `user${rand(500)}@montague.example/res${rand(9)}`;
    const to = `user${rand(500)}@capulet.example`;
    switch (i % 10) {
      case 0: case 1: case 2: case 3:
        parts.push(`<message from='${from}' to='${to}' type='chat' id='m${i}'><body>${sentence(5 + rand(40))}</body>` +
          `<active xmlns='http://jabber.org/protocol/chatstates'/><request xmlns='urn:xmpp:receipts'/></message>`);
        break;
      case 4:
        parts.push(`<message from='${from}' to='${to}' type='chat' id='m${i}'><body>${sentence(10)}</body>` +
          `<html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'><p>${sentence(5)} <strong>${sentence(2)}</strong></p></body></html></message>`);
        break;
      case 5: case 6: case 7:
        parts.push(`<presence from='${from}' to='${to}'><show>away</show><status>${sentence(3)}</status><priority>5</priority>` +
          `<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://conversations.im' ver='QgayPKawpkPSDYmwT/WM94uAlu0='/></presence>`);
        break;
      case 8:
        parts.push(`<iq type='get' id='ping${i}' from='montague.example' to='capulet.example'><ping xmlns='urn:xmpp:ping'/></iq>`);
        break;
      default:
        parts.push(`<iq type='result' id='disco${i}' from='${to}' to='${from}'><query xmlns='http://jabber.org/protocol/disco#info'>` +
          `<identity category='client' type='phone' name='Conversations'/><feature var='urn:xmpp:ping'/><feature var='urn:xmpp:receipts'/>` +
          `<feature var='http://jabber.org/protocol/caps'/><feature var='urn:xmpp:jingle:1'/></query></iq>`);
    }
    parts.push(i % 50 === 0 ? "\n " : "");
  }
  return { text: parts.join(""), stanzas };
}

function chunk(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

function runOurs(chunks: Uint8Array[]): number {
  const r = new StreamReader({ maxStanzaBytes: 262144, maxDepth: 64 });
  let n = 0;
  for (const c of chunks) {
    for (const e of r.feed(c)) {
      if (e.type === "element") n++;
      else if (e.type === "error") throw e.error;
    }
  }
  return n;
}

function runLtx(chunks: Uint8Array[]): number {
  const p = new SaxLtx();
  const dec = new TextDecoder();
  let depth = 0;
  let n = 0;
  p.on("startElement", () => depth++);
  p.on("endElement", () => {
    if (--depth === 1) n++;
  });
  p.on("text", () => {});
  for (const c of chunks) p.write(dec.decode(c, { stream: true }));
  return n;
}

function runXmpp(chunks: Uint8Array[]): number {
  const p = new XmppParser();
  const dec = new TextDecoder();
  let n = 0;
  p.on("element", () => n++);
  for (const c of chunks) p.write(dec.decode(c, { stream: true }));
  return n;
}

/**
 * Runs the contenders in turn, `rounds` times (rotating who goes first, after a warm-up), and keeps
 * each one's best time in seconds: on a shared machine the minimum is the figure least distorted
 * by other load, and interleaving exposes all contenders to the same conditions.
 */
function race(fns: Array<() => number>, rounds: number): Array<{ s: number; count: number }> {
  const out = fns.map((fn) => ({ s: Infinity, count: fn() }));
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < fns.length; k++) {
      const i = (r + k) % fns.length;
      const t = performance.now();
      fns[i]!();
      out[i]!.s = Math.min(out[i]!.s, (performance.now() - t) / 1000);
    }
  }
  return out;
}

// ------------------------------------------------------------------------ scaling (issue 15.3)
// Cost against input size for adversarial shapes: a unit (one stanza) growing in the dimension an
// attacker controls, with that dimension's limit lifted so the algorithm is what is measured (the
// limits cap it in production), repeated a fixed number of times per input. Fed in 1 KiB chunks, so
// tokens also span chunks. Exponent: slope of the least-squares fit of log(time) on log(bytes) over
// sizes doubling 3 times; 1 is linear, 2 quadratic (the attribute check of issue 10.2 measured 1.9 here).
// Target: every shape <= 1.1. The sizes stay where one unit's tables fit in the CPU's caches (up to
// 4096 attributes: 32 times the default MAX_ATTRIBUTES): beyond, V8's own hash tables (a Set, an
// object in dictionary mode) cost more per entry as they grow (measured on this machine: a Set
// 180 -> 290 ns per add from 8,000 to 64,000 names), which says nothing about the lexer. Even so,
// "many attributes" measures above 1.1 from 2,048 to 4,096 attributes per element: the lexer run
// without writing the attrs object is linear there (490-510 ns per attribute), with it not, so the
// cost is V8 growing an object past ~1,000 properties (ltx Elements hold attributes in a plain
// object). MAX_ATTRIBUTES (default 128) keeps production far below that.

interface Shape {
  name: string;
  /** One unit for size parameter n, and the limits that let it through. */
  make(n: number): { unit: string; limits?: Partial<ReaderLimits> };
  sizes: number[];
  /** Units per input. */
  repeat: number;
}

const repeat = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i)).join("");

const SHAPES: Shape[] = [
  {
    name: "many attributes",
    make: (n) => ({ unit: `<message${repeat(n, (i) => ` a${i}='v'`)}/>`, limits: { maxAttributes: n } }),
    sizes: [512, 1024, 2048, 4096],
    repeat: 16,
  },
  {
    name: "many namespace declarations",
    make: (n) => ({
      unit: `<message${repeat(n, (i) => ` xmlns:p${i}='urn:x:${i}'`)}><p${n - 1}:x p0:a='1'/></message>`,
      limits: { maxAttributes: n, maxNamespaceDeclarations: n },
    }),
    sizes: [256, 512, 1024, 2048],
    repeat: 16,
  },
  {
    // Up to the largest MAX_ELEMENT_DEPTH allowed (1024).
    name: "deep nesting (to 1024)",
    make: (n) => ({ unit: `<message>${"<a xmlns:q='urn:q'>".repeat(n - 1)}${"</a>".repeat(n - 1)}</message>`, limits: { maxDepth: n } }),
    sizes: [128, 256, 512, 1024],
    repeat: 32,
  },
  {
    name: "long names",
    make: (n) => {
      const name = "n".repeat(n);
      return { unit: `<${name} ${name}a='v' xmlns:${name}b='urn:b' ${name}b:c='w'>t</${name}>` };
    },
    sizes: [8000, 16000, 32000, 64000],
    repeat: 8,
  },
  {
    name: "long text",
    make: (n) => ({ unit: `<message><body>${"wherefore art thou é ".repeat(n / 20)}</body></message>` }),
    sizes: [16000, 32000, 64000, 128000],
    repeat: 8,
  },
  {
    name: "many entity references",
    make: (n) => ({ unit: `<message a='${"&amp;&#x1F600;".repeat(n / 2)}'><body>${"&lt;&#60;&quot;".repeat(n / 3)}</body></message>` }),
    sizes: [2000, 4000, 8000, 16000],
    repeat: 8,
  },
  {
    name: "many tiny elements",
    make: (n) => ({ unit: `<message>${"<a/>".repeat(n)}</message>` }),
    sizes: [1000, 2000, 4000, 8000],
    repeat: 16,
  },
];

// A full collection before each timed run, so that one size does not pay for the garbage of the
// previous (the shapes allocate hundreds of KiB of strings; a major GC landing in one run bends the fit).
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

function shapeSeconds(bytes: Uint8Array, limits: ReaderLimits, rounds: number): number {
  const chunks = chunk(bytes, 1024);
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    gc();
    const reader = new StreamReader(limits);
    const t = performance.now();
    for (const c of chunks) {
      for (const e of reader.feed(c)) if (e.type === "error") throw new Error(`bench scaling: ${e.error.condition} ${e.error.text}`);
    }
    best = Math.min(best, (performance.now() - t) / 1000);
  }
  return best;
}

/** Least-squares slope of y on x. */
function slope(xs: number[], ys: number[]): number {
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return num / den;
}

export function scaling(): void {
  console.log("scaling: time against input size per adversarial shape (1 KiB chunks, sizes interleaved, best of 11); exponent of the log-log fit");
  let worst = 0;
  for (const shape of SHAPES) {
    const inputs = shape.sizes.map((n) => {
      const { unit, limits } = shape.make(n);
      const bytes = new TextEncoder().encode(HEADER + unit.repeat(shape.repeat));
      const l: ReaderLimits = { maxStanzaBytes: 16 * 1024 * 1024, maxDepth: 64, ...limits };
      shapeSeconds(bytes, l, 2); // warm-up
      return { bytes, l, s: Infinity };
    });
    // Round robin over the sizes, so that a burst of load on the shared machine hits them alike.
    for (let r = 0; r < 11; r++) for (const i of inputs) i.s = Math.min(i.s, shapeSeconds(i.bytes, i.l, 1));
    const k = slope(inputs.map((i) => Math.log(i.bytes.length)), inputs.map((i) => Math.log(i.s)));
    worst = Math.max(worst, k);
    const cells = inputs.map((i) => `${(i.bytes.length / 1024).toFixed(0)} KiB ${(i.s * 1000).toFixed(1)} ms`);
    console.log(`  ${shape.name.padEnd(28)} exponent ${k.toFixed(2)}   (${cells.join(", ")})`);
  }
  console.log(`  worst exponent ${worst.toFixed(2)}: ${worst <= 1.1 ? "every shape <= 1.1" : "ABOVE 1.1"}`);
}

export default async function bench(): Promise<void> {
  const big = transcript(20000);
  const small = transcript(1000); // 1-byte feeding is slow for everyone; use a shorter input
  for (const [label, input, size, rounds] of [
    ["64 KiB", big, 65536, 15],
    ["1 KiB", big, 1024, 10],
    ["1 byte", small, 1, 4],
  ] as const) {
    const bytes = new TextEncoder().encode(input.text);
    const chunks = chunk(bytes, size);
    const mb = bytes.length / 1e6;
    const [ours, ltx, xmpp] = race([() => runOurs(chunks), () => runLtx(chunks), () => runXmpp(chunks)], rounds) as [
      { s: number; count: number },
      { s: number; count: number },
      { s: number; count: number },
    ];
    if (ours.count !== input.stanzas) throw new Error(`bench: StreamReader read ${ours.count} of ${input.stanzas} stanzas`);
    // ltx's parser mis-reads input cut at some points: when the '?' and '>' ending the XML declaration
    // arrive in different chunks it never leaves the declaration (it looks at data[pos - 1]), so it
    // finds nothing at 1-byte feeding. Say so rather than hide it.
    const fmt = (r: { s: number; count: number }) =>
      `${(mb / r.s).toFixed(1)} MB/s ${(input.stanzas / r.s / 1000).toFixed(0)}k stanzas/s` +
      (r.count === input.stanzas ? "" : ` [WRONG: found ${r.count} of ${input.stanzas} stanzas]`);
    console.log(`${label} chunks (${mb.toFixed(1)} MB, ${input.stanzas} stanzas)`);
    console.log(`  ours       ${fmt(ours)}`);
    console.log(`  bare ltx   ${fmt(ltx)}`);
    console.log(`  @xmpp/xml  ${fmt(xmpp)}`);
    console.log(`  ratio: ${(ltx.s / ours.s).toFixed(2)}x of bare ltx, ${(xmpp.s / ours.s).toFixed(2)}x of @xmpp/xml`);
  }
  console.log("target: ratio vs bare ltx >= 0.7x at 64 KiB");
  scaling();
}
