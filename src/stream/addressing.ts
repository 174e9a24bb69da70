// Domain handling for stanzas and dialback attributes: every 'from'/'to' is normalised before it is
// compared, so "Example.COM." and "example.com" are the same pair (RFC 6120 §3.2, RFC 7622).

import { normalizeDomain, type Domain } from "../types.js";
import { jidDomainpart } from "../dialback/elements.js";

// Already-normal ASCII names skip the (comparatively slow) URL-based IDNA normalisation.
const PLAIN = /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/;
const DIGITS = /^[0-9.]+$/;

/** A domain attribute (db:result from/to, stream header from/to) as a normalised Domain. */
export function toDomain(raw: string | undefined): Domain | undefined {
  if (raw === undefined || raw === "") return undefined;
  if (PLAIN.test(raw) && !DIGITS.test(raw)) return raw as Domain;
  return normalizeDomain(raw);
}

/** The normalised domainpart of a stanza address. */
export function jidDomain(jid: string | undefined): Domain | undefined {
  if (jid === undefined || jid === "") return undefined;
  return toDomain(jidDomainpart(jid));
}
