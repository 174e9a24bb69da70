// A stanza on its way to the application, as the delivery queue keeps it and the local app takes it:
// the serialized stanza plus the few facts every consumer needs (kind, addresses, type), read once
// when the stream accepted it, so nobody has to parse the XML again for a message or presence.

import { parse, type Element } from "ltx";

export interface AppStanza {
  xml: string;
  /** message, presence or iq. */
  name: string;
  from?: string;
  to?: string;
  type?: string;
  /**
   * The delivery queue row it was persisted in (set when the queue reads it back): lets the local
   * app recognise a batch delivered again after a crash (durable-objects/local-app.ts).
   */
  row?: number;
}

export function toAppStanza(el: Element): AppStanza {
  const { from, to, type } = el.attrs as Record<string, string | undefined>;
  return { xml: el.toString(), name: el.name, ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}), ...(type !== undefined ? { type } : {}) };
}

/** The whole stanza, for the few paths that need more than the head (an iq to answer, a bounce). */
export function appStanzaElement(s: AppStanza): Element {
  return parse(s.xml) as Element;
}

/** From a bare serialized stanza (an older queue row, a caller that has only the XML). */
export function appStanzaFromXml(xml: string): AppStanza {
  return toAppStanza(parse(xml) as Element);
}
