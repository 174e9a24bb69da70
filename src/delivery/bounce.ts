// What the sender sees when the application never took a stanza (every retry failed).

import type { Element } from "ltx";
import { StanzaError, bounce } from "../errors.js";

/**
 * RFC 6120 §8.3.1 error reply with `service-unavailable` for a stanza the application could not take,
 * or undefined when none is due: iq results/errors are never answered (RFC 6120 §8.2.3), and
 * presence is not bounced (RFC 6121 §4.3.2: presence nobody can take is silently discarded, otherwise
 * an undeliverable probe would leak availability).
 */
export function undeliverable(stanza: Element, text?: string): Element | undefined {
  if (stanza.name === "presence") return undefined;
  if (stanza.name === "iq" && stanza.attrs.type !== "get" && stanza.attrs.type !== "set") return undefined;
  return bounce(stanza, new StanzaError("service-unavailable", text));
}
