// RFC 7395 framing for WebSocket S2S (XEP-0468): each WebSocket message is one standalone XML
// document holding one element; the stream is opened and closed with <open/> and <close/> in the
// framing namespace (XEP-0468: urn:ietf:params:xml:ns:xmpp-framing-server; RFC 7395's
// urn:ietf:params:xml:ns:xmpp-framing is accepted too). Same restricted-XML rules and limits as TCP.

import type { Element } from "ltx";
import { StreamError } from "../errors.js";
import type { StreamEvent } from "./events.js";
import { XmlLexer } from "./lexer.js";
import type { ReaderLimits } from "./limits.js";
import { CONVENTIONAL_PREFIXES, NS_FRAMING, NS_FRAMING_SERVER, NS_SERVER, NS_STREAM, NS_XML } from "./namespaces.js";
import { attribute, serialize } from "./writer.js";
import { TreeBuilder } from "./tree.js";

export interface FrameReaderOptions {
  contentNamespace?: string;
  /**
   * Several complete frames per message, in order (the edge's link from its own TCP gateway, which
   * puts every frame its reads of one event-loop turn completed into one message: a WebSocket message costs the edge far
   * more than an element does). Each frame is exactly what it would be alone; a message must still
   * end on a frame boundary, so no state is carried between messages but the stream's scope.
   */
  batched?: boolean;
}

/**
 * Reads WebSocket messages. RFC 7395 §3.3.3 wants every namespace declared in every message; for
 * peers that leave stanzas without xmlns or rely on prefixes declared on <open/>, those are
 * inherited (content namespace, 'stream', and the <open/>'s declarations), and the emitted element
 * carries the declarations explicitly, exactly like an element read from a TCP stream.
 */
export class FrameReader {
  readonly #contentNs: string;
  readonly #lexer: XmlLexer;
  readonly #tree: TreeBuilder;
  readonly #decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
  #element: Element | undefined;
  #prefixes: Record<string, string> = streamPrefix();
  #framingNs: string | undefined;
  #error: StreamError | undefined;
  #closed = false;
  readonly #batched: boolean;
  /** Batched mode: the events of the message being read. */
  #events: StreamEvent[] = [];

  constructor(limits: ReaderLimits, options: FrameReaderOptions = {}) {
    this.#contentNs = options.contentNamespace ?? NS_SERVER;
    this.#batched = options.batched ?? false;
    if (this.#batched) {
      // One lexer for the whole connection, in stream mode under a root of our own: every frame is
      // then a top-level unit with its own byte and depth budget, exactly as on a TCP stream.
      this.#tree = new TreeBuilder(1, {
        root: () => this.#tree.setScope(this.#contentNs, this.#prefixes),
        element: (el) => {
          if (!this.#closed) this.#events.push(this.#classify(el));
        },
      });
      this.#lexer = new XmlLexer("stream", limits, this.#tree);
      this.#lexer.write("<frames>");
    } else {
      this.#tree = new TreeBuilder(0, { element: (el) => (this.#element = el) });
      this.#lexer = new XmlLexer("document", limits, this.#tree);
    }
  }

  /** The framing namespace the peer opened with (answer in the same one), once it has. */
  get framingNamespace(): string | undefined {
    return this.#framingNs;
  }

  get error(): StreamError | undefined {
    return this.#error;
  }

  get done(): boolean {
    return this.#closed || this.#error !== undefined;
  }

  /** Reads one WebSocket message (RFC 7395 §3.3.1 says text; binary is decoded as UTF-8 too). */
  read(message: string | Uint8Array): StreamEvent[] {
    if (this.done) return [];
    try {
      const text = typeof message === "string" ? message : this.#decode(message);
      // Tolerate whitespace-only messages (a peer's keepalive habit); they carry nothing.
      if (/^[ \t\r\n]*$/.test(text)) return [];
      if (this.#batched) return this.#frames(text, typeof message !== "string");
      return [this.#frame(text, typeof message !== "string")];
    } catch (e) {
      if (!(e instanceof StreamError)) throw e;
      this.#error = e;
      // Batched: the frames before the bad one stand, as they would have as separate messages.
      const before = this.#events;
      this.#events = [];
      return [...before, { type: "error", error: e }];
    }
  }

  #frames(text: string, decoded: boolean): StreamEvent[] {
    this.#lexer.write(text, decoded);
    if (!this.#lexer.betweenUnits) throw new StreamError("not-well-formed", "a WebSocket message must hold complete elements only");
    const out = this.#events;
    this.#events = [];
    return out;
  }

  #decode(bytes: Uint8Array): string {
    try {
      return this.#decoder.decode(bytes);
    } catch {
      throw new StreamError("not-well-formed", "invalid UTF-8");
    }
  }

  #frame(text: string, decoded: boolean): StreamEvent {
    this.#element = undefined;
    this.#lexer.reset();
    this.#tree.setScope(this.#contentNs, this.#prefixes);
    this.#lexer.write(text, decoded);
    const el = this.#element as Element | undefined;
    // RFC 7395 §3.3.3: one complete element per message, never part of one.
    if (!this.#lexer.finished || el === undefined) {
      throw new StreamError("not-well-formed", "a WebSocket message must hold exactly one complete element");
    }
    return this.#classify(el);
  }

  #classify(el: Element): StreamEvent {
    const ns = el.getNS();
    const framing = ns === NS_FRAMING_SERVER || ns === NS_FRAMING;
    const local = el.getName();
    if (local === "open" && framing) {
      // RFC 7395 §3.4 / §3.7: opens the stream, or restarts it; its declarations are inherited.
      this.#framingNs = ns;
      this.#prefixes = streamPrefix();
      const attrs = el.attrs as Record<string, string>;
      for (const k in attrs) {
        if (k.startsWith("xmlns:") && attrs[k] !== NS_XML) this.#prefixes[k.slice(6)] = attrs[k]!;
      }
      // Batched: the frames after it in the same message are read in the new scope.
      if (this.#batched) this.#tree.setScope(this.#contentNs, this.#prefixes);
      return { type: "open", name: el.name, attrs };
    }
    if (this.#framingNs === undefined) {
      throw new StreamError("invalid-namespace", `the first message must be <open xmlns='${NS_FRAMING_SERVER}'/>`);
    }
    if (local === "close" && framing) {
      // RFC 7395 §3.6: the stream ends; see-other-uri (§3.6.1) stays in attrs.
      this.#closed = true;
      return { type: "close", attrs: el.attrs as Record<string, string> };
    }
    return { type: "element", element: el };
  }
}

/** A prefix map with no prototype: a peer may declare any prefix, '__proto__' included. */
function streamPrefix(): Record<string, string> {
  const p = Object.create(null) as Record<string, string>;
  p.stream = NS_STREAM;
  return p;
}

/** `<open xmlns=framing .../>` (RFC 7395 §3.4, XEP-0468). Declare xmlns:db to offer dialback. */
export function openFrame(attrs: Record<string, string | undefined>, framingNs: string = NS_FRAMING_SERVER): string {
  return frameOf("open", attrs, framingNs);
}

/**
 * A TCP stream header's attributes (RFC 6120 §4.7) as the `<open/>` frame that stands for it
 * (RFC 7395 §3.3.2): the content and stream namespaces have no place on `<open/>` (the framing
 * namespace replaces them); other declarations such as xmlns:db stay. The gateway uses it for the
 * peer's header, the edge for its own.
 */
export function headerToOpenFrame(attrs: Record<string, string | undefined>, framingNs: string = NS_FRAMING_SERVER): string {
  const { xmlns: _x, "xmlns:stream": stream, ...rest } = attrs;
  // A header that binds 'stream' to something else (its stream element under another prefix) keeps
  // that binding: the frames after it are read in the header's scope.
  return openFrame(stream !== undefined && stream !== NS_STREAM ? { ...rest, "xmlns:stream": stream } : rest, framingNs);
}

/** `<close xmlns=framing/>`, optionally with see-other-uri (RFC 7395 §3.6). */
export function closeFrame(attrs: Record<string, string | undefined> = {}, framingNs: string = NS_FRAMING_SERVER): string {
  return frameOf("close", attrs, framingNs);
}

function frameOf(name: string, attrs: Record<string, string | undefined>, framingNs: string): string {
  const parts = [`<${name} xmlns='${framingNs}'`];
  for (const k in attrs) {
    const v = attrs[k];
    if (v !== undefined && k !== "xmlns") parts.push(attribute(k, v));
  }
  return parts.join("") + "/>";
}

/**
 * One element as a standalone frame (RFC 7395 §3.3.3): declares the content namespace if the
 * element has none, and any conventional prefix (stream, db) it uses without declaring. Throws
 * TypeError for a prefix nobody can know.
 */
export function frameElement(el: Element, contentNs: string = NS_SERVER): string {
  const declared = new Set<string>();
  const needed: Record<string, string> = {};
  collectPrefixes(el, declared, needed);
  const attrs = el.attrs as Record<string, unknown>;
  if (!el.name.includes(":") && attrs.xmlns === undefined) needed.xmlns = contentNs;
  else if (el.name.includes(":") && attrs.xmlns === undefined && usesDefault(el)) needed.xmlns = contentNs;
  return serialize(el, Object.keys(needed).length > 0 ? needed : undefined);
}

function collectPrefixes(el: Element, declaredAbove: Set<string>, needed: Record<string, string>): void {
  const attrs = el.attrs as Record<string, unknown>;
  let declared = declaredAbove;
  for (const k in attrs) {
    if (k.startsWith("xmlns:") && attrs[k] != null) {
      if (declared === declaredAbove) declared = new Set(declaredAbove);
      declared.add(k.slice(6));
    }
  }
  const need = (qname: string) => {
    const colon = qname.indexOf(":");
    if (colon <= 0) return;
    const p = qname.slice(0, colon);
    if (p === "xml" || p === "xmlns" || declared.has(p)) return;
    const uri = CONVENTIONAL_PREFIXES[p];
    if (uri === undefined) throw new TypeError(`cannot frame: prefix '${p}' of '${qname}' is not declared`);
    needed[`xmlns:${p}`] = uri;
  };
  need(el.name);
  for (const k in attrs) if (attrs[k] != null) need(k);
  for (const child of el.children) if (typeof child === "object" && child !== null) collectPrefixes(child, declared, needed);
}

/** Whether some descendant inherits the top's default namespace (unprefixed, no xmlns of its own). */
function usesDefault(el: Element): boolean {
  for (const child of el.children) {
    if (typeof child !== "object" || child === null) continue;
    if ((child.attrs as Record<string, unknown>).xmlns !== undefined) continue;
    if (!child.name.includes(":") || usesDefault(child)) return true;
  }
  return false;
}
