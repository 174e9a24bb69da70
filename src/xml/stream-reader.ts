// RFC 6120 §4 XML stream reader for TCP: bytes in any chunking -> open / element / close events.
// Decoding is a streaming, fatal TextDecoder (RFC 6120 §11.6: UTF-8 only; invalid UTF-8 is
// not-well-formed). Lexing and limits: lexer.ts; elements and namespaces: tree.ts.

import type { Element } from "ltx";
import { StreamError } from "../errors.js";
import type { StreamEvent } from "./events.js";
import { XmlLexer } from "./lexer.js";
import type { ReaderLimits } from "./limits.js";
import { NS_SERVER, NS_STREAM } from "./namespaces.js";
import { TreeBuilder } from "./tree.js";
import { firstInvalidUtf8, incompleteTail } from "./utf8.js";
import { concatBytes } from "../bytes.js";

export interface StreamReaderOptions {
  /** RFC 6120 §4.8.2: the default namespace the header must declare. jabber:server for S2S. */
  contentNamespace?: string;
  /**
   * Element events carry `source`: the element's text exactly as the peer wrote it (lexer.ts
   * keepUnitSource), for a relay that must forward the peer's bytes rather than a re-serialization
   * (the gateway, issue 10 defect 6).
   */
  keepSource?: boolean;
}

/**
 * Feed it what the socket gives; it returns the events completed by that chunk. After an error
 * event (always last) or the close event, further input is ignored. Call reset() when the stream
 * restarts (RFC 6120 §4.3.3, after STARTTLS): the next bytes must begin a new stream header.
 */
export class StreamReader {
  readonly #contentNs: string;
  readonly #lexer: XmlLexer;
  readonly #tree: TreeBuilder;
  #decoder = newDecoder();
  #events: StreamEvent[] = [];
  #error: StreamError | undefined;
  #closed = false;
  #highSurrogate = "";
  /** Bytes of a character the decoder holds back (its start came in an earlier chunk). */
  #carry: Uint8Array = NO_BYTES;
  /** Whether bytes were decoded yet (a BOM is only dropped at the start). */
  #started = false;

  constructor(limits: ReaderLimits, options: StreamReaderOptions = {}) {
    this.#contentNs = options.contentNamespace ?? NS_SERVER;
    const keepSource = options.keepSource ?? false;
    this.#tree = new TreeBuilder(1, {
      root: (name, attrs) => this.#open(name, attrs),
      rootEnd: () => {
        this.#closed = true;
        this.#events.push({ type: "close" });
      },
      element: (element: Element) =>
        this.#events.push(keepSource ? { type: "element", element, source: this.#lexer.unitSource() } : { type: "element", element }),
    });
    this.#lexer = new XmlLexer("stream", limits, this.#tree);
    if (keepSource) this.#lexer.keepUnitSource();
  }

  /** The error that ended the stream, if one did. */
  get error(): StreamError | undefined {
    return this.#error;
  }

  /** True once the peer closed the stream (or it failed): nothing more will come out. */
  get done(): boolean {
    return this.#closed || this.#error !== undefined;
  }

  /** Reads one chunk: bytes from the socket, or text already decoded. */
  feed(chunk: Uint8Array | string): StreamEvent[] {
    if (this.done) return [];
    let text: string;
    const decoded = typeof chunk !== "string";
    if (typeof chunk === "string") {
      // Keep a trailing high surrogate until its pair arrives, so a pair cut in two is not
      // mistaken for two unpaired (illegal) code units.
      text = this.#highSurrogate + chunk;
      this.#highSurrogate = "";
      const last = text.charCodeAt(text.length - 1);
      if (last >= 0xd800 && last <= 0xdbff) {
        this.#highSurrogate = text[text.length - 1]!;
        text = text.slice(0, -1);
      }
    } else {
      try {
        text = this.#decoder.decode(chunk, { stream: true });
      } catch {
        return this.#invalidUtf8(chunk);
      }
      this.#started ||= chunk.length > 0;
      this.#carry = heldBack(this.#carry, chunk);
    }
    return this.#run(text, decoded);
  }

  /**
   * The chunk holds invalid UTF-8 (RFC 6120 §11.6: not-well-formed). What precedes the bad byte is
   * read first, as it would have been had the chunk been cut there: its elements come out, or an
   * earlier error wins, so the error is the same, at the same byte, however the input was cut.
   */
  #invalidUtf8(chunk: Uint8Array): StreamEvent[] {
    const bytes = concatBytes([this.#carry, chunk]);
    const bad = firstInvalidUtf8(bytes);
    // Decodes without error: the prefix is valid, and an unfinished character at its end is held.
    const before = new TextDecoder("utf-8", { fatal: true, ignoreBOM: this.#started }).decode(bytes.subarray(0, Math.max(bad, 0)), { stream: true });
    const events = this.#run(before, true);
    if (this.done) return events;
    return [...events, ...this.#fail(new StreamError("not-well-formed", "invalid UTF-8"))];
  }

  /** The transport closed. Reports a truncated UTF-8 sequence; an unclosed stream is not an XML error. */
  end(): StreamEvent[] {
    if (this.done) return [];
    let text: string;
    try {
      text = this.#decoder.decode() + this.#highSurrogate;
    } catch {
      return this.#fail(new StreamError("not-well-formed", "invalid UTF-8 at end of input"));
    }
    this.#highSurrogate = "";
    return text === "" ? [] : this.#run(text);
  }

  /** RFC 6120 §4.3.3: a new stream starts on the same transport (after TLS negotiation). */
  reset(): void {
    this.#decoder = newDecoder();
    this.#lexer.reset();
    this.#tree.setScope(undefined, {});
    this.#events = [];
    this.#error = undefined;
    this.#closed = false;
    this.#highSurrogate = "";
    this.#carry = NO_BYTES;
    this.#started = false;
  }

  #run(text: string, decoded = false): StreamEvent[] {
    try {
      this.#lexer.write(text, decoded);
    } catch (e) {
      if (!(e instanceof StreamError)) throw e;
      return this.#fail(e);
    }
    const out = this.#events;
    this.#events = [];
    return out;
  }

  #fail(error: StreamError): StreamEvent[] {
    this.#error = error;
    const out = this.#events;
    this.#events = [];
    out.push({ type: "error", error });
    return out;
  }

  /** RFC 6120 §4.8: checks the stream header's names and namespaces, then opens its scope. */
  #open(name: string, attrs: Record<string, string>): void {
    const colon = name.indexOf(":");
    const prefix = colon === -1 ? "" : name.slice(0, colon);
    const local = colon === -1 ? name : name.slice(colon + 1);
    const streamNs = prefix === "" ? attrs.xmlns : attrs[`xmlns:${prefix}`];
    if (prefix !== "" && streamNs === undefined) {
      throw new StreamError("bad-namespace-prefix", `stream prefix '${prefix}' is not bound`);
    }
    // §4.8.1: the stream element is {http://etherx.jabber.org/streams}stream.
    if (local !== "stream" || streamNs !== NS_STREAM) {
      throw new StreamError("invalid-namespace", `stream element must be {${NS_STREAM}}stream`);
    }
    // §4.8.2 / §4.8.3: the default namespace is the content namespace (jabber:server on S2S).
    if (attrs.xmlns !== this.#contentNs) {
      throw new StreamError("invalid-namespace", `content namespace must be '${this.#contentNs}'`);
    }
    // No prototype: a peer may declare any prefix, '__proto__' included.
    const prefixes = Object.create(null) as Record<string, string>;
    for (const k in attrs) if (k.startsWith("xmlns:")) prefixes[k.slice(6)] = attrs[k]!;
    if (prefixes.xmlns !== undefined || (prefixes.xml !== undefined && prefixes.xml !== "http://www.w3.org/XML/1998/namespace")) {
      throw new StreamError("not-well-formed", "reserved prefix declared on the stream header");
    }
    this.#tree.setScope(this.#contentNs, prefixes);
    this.#events.push({ type: "open", name, attrs });
  }
}

const NO_BYTES = new Uint8Array(0);

/** What the streaming decoder holds back after `chunk` (it held `carry` before). */
function heldBack(carry: Uint8Array, chunk: Uint8Array): Uint8Array {
  const n = chunk.length;
  if (n === 0) return carry;
  if (chunk[n - 1]! < 0x80) return NO_BYTES; // the common case: the chunk ends with ASCII
  if (n >= 3) return incompleteTail(chunk.subarray(n - 3));
  return incompleteTail(concatBytes([carry, chunk]));
}

function newDecoder(): TextDecoder {
  // fatal: invalid UTF-8 throws instead of becoming U+FFFD; the BOM, if any, is dropped.
  return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
}
