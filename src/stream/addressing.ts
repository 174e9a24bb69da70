// XMPP addresses (RFC 7622) as the edge checks and delivers them: one canonical form, so "Example.COM."
// and "example.com" are the same pair, and what the application receives is what was verified.
// Every path that checks stanza addresses goes through here: the engine (receiving.ts,
// originating.ts), the application API (src/delivery/submit.ts) and the shells (via submit.ts).
//
// Canonical form (RFC 7622 §3): localpart UsernameCaseMapped and resourcepart OpaqueString (RFC 8265,
// ./precis.ts); domainpart mapped as IDNA2008 / UTS-46 (label separators U+3002, U+FF0E and U+FF61
// are dots, RFC 7622 §3.2.1), lowercase, without the trailing dot (§3.2). Deliberately ASCII: the
// domainpart is kept in A-labels (RFC 7622 §3.2.2 prefers U-labels), because A-labels are what DNS,
// dialback keys (XEP-0185) and every pair table of the edge use; a U-label domain is still accepted
// and comes out as its A-label. A domainpart with '%' is malformed: URL parsers percent-decode hosts
// ("peer%2etest" would become "peer.test"), XMPP never does.

import { normalizeDomain, type Domain } from "../types.js";
import { localpartCanonical, resourcepartCanonical } from "./precis.js";

// Already-normal ASCII names skip the (comparatively slow) URL-based IDNA normalisation.
const PLAIN = /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/;
const DIGITS = /^[0-9.]+$/;
/** RFC 7622 §3.2.1: label separators other than the full stop. */
const SEPARATORS = /[\u3002\uff0e\uff61]/g;
/** Never part of a domain; '%' and whitespace are refused before URL parsing can decode or drop them. */
const NOT_IN_DOMAIN = /[%\s]/;

/** A domain (db:result from/to, stream header from/to, a JID's domainpart) in canonical form. */
export function toDomain(raw: string | undefined): Domain | undefined {
  if (raw === undefined || raw === "") return undefined;
  if (PLAIN.test(raw) && !DIGITS.test(raw)) return raw as Domain;
  if (NOT_IN_DOMAIN.test(raw)) return undefined;
  const dotted = raw.replace(SEPARATORS, ".");
  // RFC 7622 §3.2: one final dot is stripped; "a.b.." or "." are malformed.
  const bare = dotted.endsWith(".") ? dotted.slice(0, -1) : dotted;
  if (bare === "" || bare.endsWith(".")) return undefined;
  const d = normalizeDomain(bare);
  return d !== undefined && d.length <= 253 ? d : undefined;
}

/** An address split into its parts, each canonical (RFC 7622 §3.1). */
export interface Jid {
  local: string | undefined;
  domain: Domain;
  resource: string | undefined;
  /** The whole address in canonical form: [local "@"] domain ["/" resource]. */
  full: string;
}

/**
 * Whether the address is malformed (RFC 6120 §8.3.3.8 jid-malformed), and if so whether its
 * domainpart at least is a domain (`domain`), which decides whether the stanza can be answered.
 */
export type JidCheck = { ok: true; jid: Jid } | { ok: false; domain: Domain | undefined };

/** Checks and canonicalises an address (RFC 7622 §3.1: the resource starts at the first '/', the localpart ends at the first '@' before it). */
export function canonicalJid(raw: string): JidCheck {
  const slash = raw.indexOf("/");
  const bare = slash < 0 ? raw : raw.slice(0, slash);
  const at = bare.indexOf("@");
  const domain = toDomain(at < 0 ? bare : bare.slice(at + 1));
  if (domain === undefined) return { ok: false, domain: undefined };
  const local = at < 0 ? undefined : localpartCanonical(bare.slice(0, at));
  const resource = slash < 0 ? undefined : resourcepartCanonical(raw.slice(slash + 1));
  if ((at >= 0 && local === undefined) || (slash >= 0 && resource === undefined)) return { ok: false, domain };
  const full = `${local === undefined ? "" : `${local}@`}${domain}${resource === undefined ? "" : `/${resource}`}`;
  return { ok: true, jid: { local, domain, resource, full } };
}

/** The canonical domainpart of an address (undefined when the domainpart is not a domain). */
export function jidDomain(jid: string | undefined): Domain | undefined {
  if (jid === undefined || jid === "") return undefined;
  const slash = jid.indexOf("/");
  const bare = slash < 0 ? jid : jid.slice(0, slash);
  const at = bare.indexOf("@");
  return toDomain(at < 0 ? bare : bare.slice(at + 1));
}
