// Bytes <-> engine events for the two transports a stream session runs on, built on src/xml:
// RFC 6120 TCP (outbound connect(): StreamReader, streamHeader, serialize) and RFC 7395 / XEP-0468
// framing (inbound WebSocket: FrameReader, headerToOpenFrame, frameElement).

import type { Limits } from "../../src/config.js";
import type { Outgoing } from "../../src/engine/index.js";
import {
  FrameReader,
  NS_DIALBACK,
  NS_FRAMING_SERVER,
  NS_SERVER,
  NS_STREAM,
  NS_SASL,
  StreamReader,
  closeFrame,
  frameElement,
  headerToOpenFrame,
  openFrame,
  serialize,
  streamClose,
  streamHeader,
  type StreamEvent,
} from "../../src/xml/index.js";

export type WireEvent = StreamEvent;
type ReaderLimits = Pick<Limits, "maxStanzaBytes" | "maxDepth" | "maxAttributes" | "maxNamespaceDeclarations">;

/**
 * One WebSocket message -> events. The engine sees a stream header: RFC 7395 §3.3.2 replaces
 * stream:stream by <open/>, and for S2S the content namespace is jabber:server (XEP-0468 §2).
 * `resumeWith` replays the peer's <open/> after hibernation so the reader knows the stream is open.
 */
export class FrameCodec {
  #reader: FrameReader;
  #framingNs = NS_FRAMING_SERVER;
  /** The peer's <open/>, kept so a restored session can prime a new reader. */
  lastOpen: string | undefined;

  constructor(private readonly limits: ReaderLimits, resumeWith?: string, private readonly batched = false) {
    this.#reader = new FrameReader(limits, { batched });
    if (resumeWith) {
      this.#reader.read(resumeWith);
      this.lastOpen = resumeWith;
      this.#framingNs = this.#reader.framingNamespace ?? NS_FRAMING_SERVER;
    }
  }

  /**
   * Binary messages go to the reader as bytes: it decodes them with a fatal UTF-8 decoder, so
   * invalid UTF-8 ends the stream with not-well-formed (RFC 6120 §11.6) instead of turning into
   * U+FFFD unnoticed.
   */
  decode(message: string | ArrayBuffer | Uint8Array): WireEvent[] {
    const input = typeof message === "string" ? message : message instanceof Uint8Array ? message : new Uint8Array(message);
    const events = this.#reader.read(input);
    return events.map((e) => {
      if (e.type !== "open") return e;
      this.#framingNs = this.#reader.framingNamespace ?? NS_FRAMING_SERVER;
      const { xmlns: _, ...rest } = e.attrs;
      // A batched message holds more than the <open/>: keep that frame alone, rebuilt from its
      // attributes (declarations included). Otherwise the message is the frame; it was decoded
      // successfully by the reader, so decoding it again cannot fail.
      if (this.batched) this.lastOpen = openFrame(rest, this.#framingNs);
      else this.lastOpen = typeof input === "string" ? input : new TextDecoder().decode(input);
      return { ...e, attrs: { xmlns: NS_SERVER, "xmlns:stream": NS_STREAM, "xmlns:db": NS_DIALBACK, ...rest } };
    });
  }

  /** Engine output -> one WebSocket message, every element standalone. Answers in the peer's framing namespace. */
  encode(out: Outgoing): string {
    if (out.kind === "header") return headerToOpenFrame(out.attrs, this.#framingNs);
    if (out.kind === "close") return closeFrame({}, this.#framingNs);
    return frameElement(out.element);
  }
}

/** RFC 6120 §4 stream over TCP bytes, any chunking. `reset()` after STARTTLS (§4.3.3). */
export class TcpCodec {
  readonly #reader: StreamReader;
  constructor(limits: ReaderLimits) {
    this.#reader = new StreamReader(limits);
  }
  /**
   * RFC 6120 §6.4.6: after SASL <success/> (XEP-0178 as initiator) the peer starts a new stream
   * (with its own XML declaration) on the same connection: the reader starts afresh after that
   * element. The peer sends nothing more before our new header, so the rest of this chunk is empty.
   */
  feed(chunk: Uint8Array): WireEvent[] {
    const events = this.#reader.feed(chunk);
    const i = events.findIndex((e) => e.type === "element" && e.element.is("success", NS_SASL));
    if (i < 0) return events;
    this.#reader.reset();
    return events.slice(0, i + 1);
  }
  end(): WireEvent[] {
    return this.#reader.end();
  }
  reset(): void {
    this.#reader.reset();
  }
  encode(out: Outgoing): string {
    if (out.kind === "header") {
      const { xmlns: _x, "xmlns:stream": _s, "xmlns:db": db, ...rest } = out.attrs;
      return streamHeader(rest, { dialback: db !== undefined });
    }
    if (out.kind === "close") return streamClose();
    return serialize(out.element);
  }
}
