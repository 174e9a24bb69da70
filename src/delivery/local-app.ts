// The default application when the operator configured none (no APP binding, no webhook): it answers
// what every XMPP domain must answer and keeps inbound stanzas for GET /api/v1/inbox, so `npm start`
// is useful alone.

import { Element } from "ltx";
import { StanzaError, bounce } from "../errors.js";

export const NS_PING = "urn:xmpp:ping"; // XEP-0199
export const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"; // XEP-0030

export interface LocalAppResult {
  /** Stanzas to send back to the sender. */
  replies: Element[];
  /** Keep it in the inbox (everything but the iq queries the app itself answered). */
  store: boolean;
}

function bareDomain(jid: string | undefined): string | undefined {
  if (!jid || jid.includes("@") || jid.includes("/")) return undefined;
  return jid.toLowerCase();
}

function result(iq: Element): Element {
  const attrs: Record<string, string> = { type: "result" };
  if (iq.attrs.id !== undefined) attrs.id = iq.attrs.id;
  if (iq.attrs.to !== undefined) attrs.from = iq.attrs.to;
  if (iq.attrs.from !== undefined) attrs.to = iq.attrs.from;
  return new Element("iq", attrs);
}

/**
 * What localApp() decides from the stanza's head alone: everything but an iq get/set is only kept,
 * so the local app parses just those. Undefined: the whole stanza is needed (call localApp()).
 */
export function localAppFromHead(name: string, type: string | undefined): LocalAppResult | undefined {
  if (name !== "iq") return { replies: [], store: true };
  if (type !== "get" && type !== "set") return { replies: [], store: true };
  return undefined;
}

export function localApp(stanza: Element, hosted: readonly string[]): LocalAppResult {
  // Messages and presence are kept. RFC 6121 §4.3: presence is never answered with an error by a
  // server that merely has no one to deliver it to; messages to an account-less domain are stored
  // for the operator rather than bounced, so nothing is lost. RFC 6120 §8.2.3: result and error
  // iqs are never answered.
  const fromHead = localAppFromHead(stanza.name, stanza.attrs.type);
  if (fromHead) return fromHead;
  const type = stanza.attrs.type;
  const payload = stanza.children.find((c): c is Element => typeof c !== "string");
  const toDomain = bareDomain(stanza.attrs.to);
  const onDomain = toDomain !== undefined && hosted.includes(toDomain);
  if (onDomain && type === "get" && payload?.name === "ping" && payload.attrs.xmlns === NS_PING) {
    // XEP-0199 §4.2: server-to-server ping, answered with an empty result.
    return { replies: [result(stanza)], store: false };
  }
  if (onDomain && type === "get" && payload?.name === "query" && payload.attrs.xmlns === NS_DISCO_INFO && !payload.attrs.node) {
    // XEP-0030 §3.1: the domain is a server (category server, type im) and names what it supports.
    const reply = result(stanza);
    const query = reply.c("query", { xmlns: NS_DISCO_INFO });
    query.c("identity", { category: "server", type: "im", name: "dialback-edge" });
    for (const v of [NS_DISCO_INFO, NS_PING]) query.c("feature", { var: v });
    return { replies: [reply], store: false };
  }
  // RFC 6120 §8.2.3 / §8.3.3.19: an iq get/set nobody handles must get an error reply.
  const err = bounce(stanza, new StanzaError("service-unavailable"));
  return { replies: err ? [err] : [], store: true };
}
