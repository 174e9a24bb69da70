// What the XML layer hands the rest of the edge: the same events for TCP streams (RFC 6120) and
// WebSocket framing (RFC 7395 / XEP-0468), so the engine never knows which transport it is on.

import type { Element } from "ltx";
import type { StreamError } from "../errors.js";

export type StreamEvent =
  /**
   * The stream header (`stream:stream`) or the framing `<open/>`. `attrs` are as sent, namespace
   * declarations included (`xmlns:db` tells whether the peer offers dialback, XEP-0220 §2.1).
   */
  | { type: "open"; name: string; attrs: Record<string, string> }
  /**
   * One complete top-level element, detached (parent null) and standalone: every namespace it uses
   * is declared on it, so `element.is("result", NS_DIALBACK)` and `element.toString()` work alone.
   */
  | {
      type: "element";
      element: Element;
      /**
       * With StreamReaderOptions.keepSource: the element exactly as the peer wrote it (no inherited
       * declarations added, no re-escaping; UTF-8 encoded, the peer's bytes).
       */
      source?: string;
    }
  /** `</stream:stream>` or the framing `<close/>` (its attributes, e.g. see-other-uri, in attrs). */
  | { type: "close"; attrs?: Record<string, string> }
  /** The peer broke the stream; always the last event. Send `error.toElement()` and close. */
  | { type: "error"; error: StreamError };
