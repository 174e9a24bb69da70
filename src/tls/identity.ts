// RFC 6125 §6 / RFC 7712 §3-4 (with RFC 6120 §13.7.2): is a server certificate valid for an XMPP
// domain? The reference identifiers for a domain are its DNS-ID (dNSName SAN, one-label wildcard in
// the left-most label, RFC 6125 §6.4.3), its SRV-IDs for `_xmpp-server` and `_xmpps-server`
// (SRVName SAN, RFC 4985), and its XmppAddr (id-on-xmppAddr, RFC 6120 §13.7.1.4). The CN is never
// used when SANs exist (RFC 6125 §6.4.4); we use SANs only. Pure: the input is the
// `subjectaltname` string Node formats (`DNS:a, othername:XmppAddr:b, othername:SRVName:_x.c`).

/** The identities in a Node `subjectaltname` string, by type. */
export function parseSubjectAltName(san: string | undefined): { dns: string[]; srv: string[]; xmpp: string[] } {
  const out = { dns: [] as string[], srv: [] as string[], xmpp: [] as string[] };
  if (!san) return out;
  // Values may be JSON-quoted by Node when they contain separators; plain ones are not.
  const re = /(DNS|othername:XmppAddr|othername:SRVName):("(?:[^"\\]|\\.)*"|[^,]*)/g;
  for (const m of san.matchAll(re)) {
    const raw = m[2]!.trim();
    let v = raw;
    if (raw.startsWith('"')) {
      try {
        v = JSON.parse(raw) as string;
      } catch {
        continue;
      }
    }
    v = v.toLowerCase().replace(/\.$/, "");
    if (m[1] === "DNS") out.dns.push(v);
    else if (m[1] === "othername:XmppAddr") out.xmpp.push(v);
    else out.srv.push(v);
  }
  return out;
}

/**
 * RFC 6125 §6.4: a presented DNS-ID (lowercase, no trailing dot) against a domain: equal, or a
 * wildcard '*' as the complete left-most label matching exactly one label (§6.4.3). Also what the
 * engine uses for certificate names the gateway verified (src/engine/ports.ts certificateValidFor).
 */
export function dnsIdMatches(presented: string, domain: string): boolean {
  if (presented === domain) return true;
  if (!presented.startsWith("*.")) return false;
  const dot = domain.indexOf(".");
  return dot > 0 && domain.slice(dot + 1) === presented.slice(2);
}

/** Here, where the gateway reads a certificate itself, a wildcard must also leave two labels (`*.test` names nothing). */
const dnsIdMatchesStrict = (presented: string, domain: string): boolean =>
  dnsIdMatches(presented, domain) && (!presented.startsWith("*.") || presented.slice(2).includes("."));

/**
 * The identities of `san` that are valid for `domain` (lowercase A-labels): empty when the
 * certificate does not name the domain in any form RFC 6125 / RFC 7712 accept.
 */
export function identitiesFor(san: string | undefined, domain: string): string[] {
  const d = domain.toLowerCase().replace(/\.$/, "");
  const ids = parseSubjectAltName(san);
  const out: string[] = [];
  if (ids.dns.some((p) => dnsIdMatchesStrict(p, d))) out.push(d);
  else if (ids.srv.some((p) => p === `_xmpp-server.${d}` || p === `_xmpps-server.${d}`)) out.push(d);
  else if (ids.xmpp.includes(d)) out.push(d);
  return out;
}

/** The domain names (DNS-IDs, SRV-ID domains, XmppAddrs) a certificate's SANs name. */
export function namesOf(san: string | undefined): string[] {
  const ids = parseSubjectAltName(san);
  const srv = ids.srv.map((s) => s.replace(/^_xmpps?-server\./, ""));
  return [...new Set([...ids.dns, ...srv, ...ids.xmpp])];
}
