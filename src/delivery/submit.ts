// The send path's front door: a stanza the operator's application submits (POST /api/v1/stanzas or
// the EdgeApi RPC). It must be one well-formed stanza, from a hosted domain, to a remote domain.
// Every refusal names what is wrong, so the application can fix it.

import { parse, type Element } from "ltx";
import { toHex, type Domain } from "../types.js";
import { canonicalJid, jidDomain } from "../stream/addressing.js";

// Re-exported for the shells, which check stanza addresses the same way the engine does.
export { jidDomain };

export type Submitted =
  | { ok: true; stanza: Element; from: Domain; to: Domain; id: string }
  | { ok: false; status: 413 | 422; detail: string };

const STANZAS = new Set(["message", "presence", "iq"]);
const CLIENT_NS = new Set([undefined, "jabber:server", "jabber:client"]);

export function submitStanza(xml: string, hosted: readonly Domain[], maxBytes: number): Submitted {
  const bytes = new TextEncoder().encode(xml).length;
  if (bytes > maxBytes) return { ok: false, status: 413, detail: `stanza is ${bytes} bytes; MAX_STANZA_BYTES is ${maxBytes}` };
  let stanza: Element;
  try {
    const parsed = parse(xml);
    if (typeof parsed === "string" || !parsed) throw new Error("no element");
    stanza = parsed as Element;
  } catch (err) {
    return { ok: false, status: 422, detail: `body is not one well-formed XML element: ${(err as Error).message}` };
  }
  if (!STANZAS.has(stanza.name)) return { ok: false, status: 422, detail: `<${stanza.name}/> is not a stanza (message, presence or iq)` };
  if (!CLIENT_NS.has(stanza.attrs.xmlns)) {
    return { ok: false, status: 422, detail: `stanza namespace must be jabber:server (or jabber:client), got '${stanza.attrs.xmlns}'` };
  }
  // Over S2S the stream's default namespace is jabber:server (RFC 6120 §4.8.3); the element inherits it.
  delete stanza.attrs.xmlns;
  if (!stanza.attrs.from) return { ok: false, status: 422, detail: "'from' is required and must be a JID" };
  if (!stanza.attrs.to) return { ok: false, status: 422, detail: "'to' is required and must be a JID" };
  // RFC 7622: checked and sent in canonical form, as the engine checks what peers send us.
  const fromJid = canonicalJid(stanza.attrs.from);
  if (!fromJid.ok) return { ok: false, status: 422, detail: `jid-malformed: 'from' ${JSON.stringify(stanza.attrs.from)} is not a valid XMPP address (RFC 7622)` };
  const from = fromJid.jid.domain;
  if (!hosted.includes(from)) return { ok: false, status: 422, detail: `'from' domain ${from} is not hosted here (EDGE_DOMAINS)` };
  const toJid = canonicalJid(stanza.attrs.to);
  if (!toJid.ok) return { ok: false, status: 422, detail: `jid-malformed: 'to' ${JSON.stringify(stanza.attrs.to)} is not a valid XMPP address (RFC 7622)` };
  const to = toJid.jid.domain;
  if (hosted.includes(to)) return { ok: false, status: 422, detail: `'to' domain ${to} is hosted here; the edge only federates with remote domains` };
  stanza.attrs.from = fromJid.jid.full;
  stanza.attrs.to = toJid.jid.full;
  if (stanza.name === "iq" && !["get", "set", "result", "error"].includes(stanza.attrs.type)) {
    return { ok: false, status: 422, detail: "an iq needs type get, set, result or error (RFC 6120 §8.2.3)" };
  }
  if (!stanza.attrs.id) {
    const b = new Uint8Array(12);
    crypto.getRandomValues(b);
    stanza.attrs.id = `edge-${toHex(b)}`;
  }
  return { ok: true, stanza, from, to, id: stanza.attrs.id };
}
