// The registrable parent of a domain ("evil.test" for "a.b.evil.test"), the unit one party controls
// when it claims many names: budgets per parent stop one registrant from spending the edge's
// verification work through thousands of subdomains (issue 10 defect 4). An approximation of the
// Public Suffix List (https://publicsuffix.org), documented in README.md: the last two labels, or the
// last three when the last two are a common multi-label public suffix below. A domain missing from
// the list (e.g. "city.kawasaki.jp") counts one level too high, which makes its budget shared more
// widely (stricter), never looser than the rule for its registrant.

/** Second-level public suffixes under which registrations happen one level down (a selection). */
const MULTI_LABEL_SUFFIXES = new Set([
  // United Kingdom, Japan, Australia, New Zealand, South Africa, Brazil, India, Korea, China, ...
  "co.uk", "org.uk", "me.uk", "ac.uk", "gov.uk", "ltd.uk", "plc.uk", "net.uk", "sch.uk",
  "co.jp", "ne.jp", "or.jp", "ac.jp", "go.jp", "ed.jp",
  "com.au", "net.au", "org.au", "edu.au", "gov.au", "id.au",
  "co.nz", "net.nz", "org.nz", "ac.nz", "govt.nz",
  "co.za", "org.za", "ac.za", "gov.za",
  "com.br", "net.br", "org.br", "gov.br", "edu.br",
  "co.in", "net.in", "org.in", "ac.in", "gov.in",
  "co.kr", "or.kr", "ac.kr", "go.kr",
  "com.cn", "net.cn", "org.cn", "edu.cn", "gov.cn",
  "com.tw", "org.tw", "edu.tw", "com.hk", "org.hk", "edu.hk", "com.sg", "edu.sg",
  "com.mx", "org.mx", "com.ar", "com.tr", "org.tr", "com.ua", "org.ua", "com.pl", "org.pl",
  "co.il", "org.il", "ac.il", "co.at", "or.at", "ac.at", "com.es", "org.es",
  "com.ru", "org.ru", "co.id", "or.id", "ac.id", "com.my", "com.ph", "com.vn", "com.eg", "com.sa",
  // Shared hosting and dynamic DNS suffixes where each label below is a different party.
  "github.io", "gitlab.io", "herokuapp.com", "pages.dev", "workers.dev", "netlify.app", "vercel.app",
  "appspot.com", "blogspot.com", "duckdns.org", "no-ip.org", "dyndns.org", "ddns.net", "eu.org",
]);

export function registrableParent(domain: string): string {
  // An address literal as a domain (RFC 7622 §3.2 allows them): its own party.
  if (domain.includes(":") || /^[0-9.]+$/.test(domain)) return domain;
  const labels = domain.toLowerCase().replace(/\.$/, "").split(".");
  if (labels.length <= 2) return labels.join(".");
  const lastTwo = labels.slice(-2).join(".");
  return MULTI_LABEL_SUFFIXES.has(lastTwo) ? labels.slice(-3).join(".") : lastTwo;
}
