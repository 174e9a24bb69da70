// Bytes <-> engine events for the two transports a stream session runs on: RFC 6120 TCP (outbound
// connect()) and RFC 7395 / XEP-0468 framing (inbound WebSocket). Events have the shape of src/xml's
// StreamEvent so the parser can be swapped for src/xml's StreamReader without touching the DO.
// TODO(xml): replace TcpDecoder with src/xml StreamReader and the framing with its framing reader.

import { Element, Parser, parse } from "ltx";
import { StreamError } from "../../src/errors.js";
import type { Outgoing } from "../../src/engine/index.js";

export const NS_SERVER = "jabber:server";
export const NS_STREAM = "http://etherx.jabber.org/streams";
export const NS_DB = "jabber:server:dialback";
/** XEP-0468 §2; RFC 7395's client framing namespace is accepted too (issue 4). */
export const NS_FRAMING_SERVER = "urn:ietf:params:xml:ns:xmpp-framing-server";
export const NS_FRAMING = "urn:ietf:params:xml:ns:xmpp-framing";

export type WireEvent =
  | { type: "open"; name: string; attrs: Record<string, string> }
  | { type: "element"; element: Element }
  | { type: "close"; attrs?: Record<string, string> }
  | { type: "error"; error: StreamError };

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
const attrText = (attrs: Record<string, string>) => Object.entries(attrs).map(([k, v]) => ` ${k}="${esc(v)}"`).join("");

// ---------------------------------------------------------------------------------------- framing

/** One WebSocket message -> one event (RFC 7395 §3.3: each message is one complete element). */
export function decodeFrame(text: string, maxBytes: number): WireEvent {
  if (text.length > maxBytes) return { type: "error", error: new StreamError("policy-violation", `frame larger than ${maxBytes} bytes`) };
  let el: Element;
  try {
    el = parse(text) as Element;
  } catch {
    return { type: "error", error: new StreamError("not-well-formed") };
  }
  const framing = el.attrs.xmlns === NS_FRAMING_SERVER || el.attrs.xmlns === NS_FRAMING;
  if (el.name === "open" && framing) {
    // The engine sees a stream header: RFC 7395 §3.3.2 replaces stream:stream by <open/>, the
    // content namespace being jabber:server for S2S (XEP-0468 §2).
    const { xmlns: _, ...rest } = el.attrs;
    return { type: "open", name: "open", attrs: { xmlns: NS_SERVER, "xmlns:stream": NS_STREAM, "xmlns:db": NS_DB, ...rest } };
  }
  if (el.name === "close" && framing) return { type: "close", attrs: el.attrs };
  return { type: "element", element: el };
}

/** Engine output -> one WebSocket message; every element standalone (its namespaces declared). */
export function encodeFrame(out: Outgoing): string {
  if (out.kind === "header") {
    const { xmlns: _x, "xmlns:stream": _s, "xmlns:db": _d, ...rest } = out.attrs;
    return `<open xmlns="${NS_FRAMING_SERVER}"${attrText(rest)}/>`;
  }
  if (out.kind === "close") return `<close xmlns="${NS_FRAMING_SERVER}"/>`;
  return standalone(out.element).toString();
}

function standalone(el: Element): Element {
  const i = el.name.indexOf(":");
  if (i < 0) {
    if (el.attrs.xmlns) return el;
    const copy = new Element(el.name, { xmlns: NS_SERVER, ...el.attrs });
    copy.children = el.children;
    return copy;
  }
  const prefix = el.name.slice(0, i);
  const decl = `xmlns:${prefix}`;
  if (el.attrs[decl]) return el;
  const ns = prefix === "db" ? NS_DB : prefix === "stream" ? NS_STREAM : undefined;
  if (!ns) return el;
  const copy = new Element(el.name, { ...el.attrs, [decl]: ns });
  copy.children = el.children;
  return copy;
}

// -------------------------------------------------------------------------------------------- tcp

export function encodeTcp(out: Outgoing): string {
  if (out.kind === "header") return `<?xml version="1.0"?><stream:stream${attrText(out.attrs)}>`;
  if (out.kind === "close") return "</stream:stream>";
  return out.element.toString();
}

/** RFC 6120 §4 stream parsing over TCP bytes, any chunking. `reset()` after STARTTLS. */
export class TcpDecoder {
  #sax!: { write(s: string): void; on(e: string, f: (...a: any[]) => void): void };
  #decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
  #depth = 0;
  #el: Element | undefined;
  #events: WireEvent[] = [];
  #bytes = 0;
  #done = false;

  constructor(private readonly maxBytes: number) {
    this.reset();
  }

  reset(): void {
    this.#sax = new (Parser.prototype as any).DefaultParser();
    this.#depth = 0;
    this.#el = undefined;
    this.#done = false;
    this.#sax.on("startElement", (name: string, attrs: Record<string, string>) => {
      if (this.#depth++ === 0) {
        this.#events.push({ type: "open", name, attrs });
        return;
      }
      const child = new Element(name, attrs);
      this.#el = this.#el ? (this.#el.cnode(child) as Element) : child;
    });
    this.#sax.on("endElement", () => {
      if (--this.#depth === 0) {
        this.#done = true;
        this.#events.push({ type: "close" });
        return;
      }
      const el = this.#el!;
      if (this.#depth === 1) {
        this.#el = undefined;
        this.#bytes = 0;
        this.#events.push({ type: "element", element: el });
      } else this.#el = el.parent as Element;
    });
    this.#sax.on("text", (t: string) => void this.#el?.t(t));
    this.#sax.on("error", () => this.#fail(new StreamError("not-well-formed")));
  }

  #fail(e: StreamError): void {
    if (this.#done) return;
    this.#done = true;
    this.#events.push({ type: "error", error: e });
  }

  feed(chunk: Uint8Array | string): WireEvent[] {
    if (this.#done) return [];
    try {
      const text = typeof chunk === "string" ? chunk : this.#decoder.decode(chunk, { stream: true });
      this.#bytes += text.length;
      // RFC 6120 §13.12: refuse stanzas beyond the configured size before buffering more.
      if (this.#bytes > this.maxBytes && this.#depth > 1) this.#fail(new StreamError("policy-violation", "stanza too large"));
      else this.#sax.write(text);
    } catch {
      this.#fail(new StreamError("not-well-formed", "invalid UTF-8"));
    }
    const out = this.#events;
    this.#events = [];
    return out;
  }
}
