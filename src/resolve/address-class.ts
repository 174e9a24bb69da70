// Which hosts outbound S2S may connect to (issue 10 defect 7, SSRF). A remote domain's DNS is
// controlled by whoever claims it: an SRV answer `0 0 9996 127.0.0.1.` or a name whose A record is
// 169.254.169.254 would otherwise make the edge open connections inside its own network. Federation
// only ever needs globally reachable unicast addresses, so everything IANA's special-purpose
// registries (RFC 6890, its IPv4 and IPv6 tables) mark as not globally reachable is refused, in
// every literal spelling a resolver or socket library accepts (inet_aton: decimal, octal, hex,
// shorthand; IPv6 with embedded IPv4, IPv4-mapped, NAT64, 6to4). Pure: no I/O.

export type HostClass =
  /** A literal address that is globally reachable unicast. */
  | { kind: "public"; address: string }
  /** A DNS name: what it resolves to still has to be checked (target-guard.ts). */
  | { kind: "name" }
  /** Never dialled: `range` names the special-purpose block it falls in. */
  | { kind: "refused"; range: string };

/** IPv4 special-purpose blocks (RFC 6890 / IANA IPv4 Special-Purpose Address Registry, RFC 6598). */
const V4_BLOCKS: [number, number, string][] = [
  [0x00000000, 8, "unspecified (0.0.0.0/8)"],
  [0x0a000000, 8, "private (10.0.0.0/8)"],
  [0x64400000, 10, "CGNAT (100.64.0.0/10)"],
  [0x7f000000, 8, "loopback (127.0.0.0/8)"],
  [0xa9fe0000, 16, "link-local / cloud metadata (169.254.0.0/16)"],
  [0xac100000, 12, "private (172.16.0.0/12)"],
  [0xc0000000, 24, "IETF protocol assignments (192.0.0.0/24)"],
  [0xc0000200, 24, "documentation (192.0.2.0/24)"],
  [0xc0586300, 24, "6to4 relay anycast (192.88.99.0/24)"],
  [0xc0a80000, 16, "private (192.168.0.0/16)"],
  [0xc6120000, 15, "benchmarking (198.18.0.0/15)"],
  [0xc6336400, 24, "documentation (198.51.100.0/24)"],
  [0xcb007100, 24, "documentation (203.0.113.0/24)"],
  [0xe0000000, 4, "multicast (224.0.0.0/4)"],
  [0xf0000000, 4, "reserved / broadcast (240.0.0.0/4)"],
];

/** The class of an IPv4 address given as a 32-bit number. */
export function classifyV4(n: number): HostClass {
  for (const [base, bits, range] of V4_BLOCKS) {
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    if (((n & mask) >>> 0) === base) return { kind: "refused", range };
  }
  return { kind: "public", address: v4String(n) };
}

const v4String = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 0xff).join(".");

/**
 * inet_aton(3) as getaddrinfo and many socket libraries accept it: 1 to 4 parts, each decimal, octal
 * (leading 0) or hex (0x); the last part fills the remaining bytes ("127.1", "2130706433",
 * "0x7f.0.0.1", "0177.0.0.01"). Undefined when `s` is not such a literal.
 */
export function parseV4(s: string): number | undefined {
  const parts = s.split(".");
  if (parts.length < 1 || parts.length > 4) return undefined;
  const nums: number[] = [];
  for (const p of parts) {
    let v: number;
    if (/^0x[0-9a-f]*$/i.test(p)) v = p.length === 2 ? 0 : parseInt(p.slice(2), 16);
    else if (/^0[0-7]*$/.test(p)) v = parseInt(p, 8);
    else if (/^[1-9][0-9]*$/.test(p)) v = parseInt(p, 10);
    else return undefined;
    if (!Number.isFinite(v)) return undefined;
    nums.push(v);
  }
  const last = nums.pop()!;
  for (const n of nums) if (n > 0xff) return undefined;
  const lastBits = 8 * (4 - nums.length);
  if (last >= 2 ** lastBits) return undefined;
  let out = 0;
  for (let i = 0; i < nums.length; i++) out += nums[i]! * 2 ** (24 - 8 * i);
  return out + last;
}

/** RFC 4291 §2.2 text forms (with "::" and a trailing dotted IPv4), zone ids dropped. 8 groups or undefined. */
export function parseV6(input: string): number[] | undefined {
  let s = input.replace(/^\[(.*)\]$/, "$1").replace(/%.*$/, "").toLowerCase();
  if (!s.includes(":")) return undefined;
  const tail: number[] = [];
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted) {
    const v4 = parseDottedQuad(dotted[2]!);
    if (v4 === undefined) return undefined;
    tail.push(v4 >>> 16, v4 & 0xffff);
    s = dotted[1]!.endsWith("::") ? dotted[1]! : dotted[1]!.slice(0, -1);
  }
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const group = (h: string) => (h === "" ? [] : h.split(":"));
  const head = group(halves[0]!);
  const rest = halves.length === 2 ? group(halves[1]!) : [];
  for (const g of [...head, ...rest]) if (!/^[0-9a-f]{1,4}$/.test(g)) return undefined;
  const groups: number[] = [];
  const total = head.length + rest.length + tail.length;
  if (halves.length === 1 && total !== 8) return undefined;
  if (halves.length === 2 && total > 7) return undefined;
  groups.push(...head.map((g) => parseInt(g, 16)));
  if (halves.length === 2) for (let i = total; i < 8; i++) groups.push(0);
  groups.push(...rest.map((g) => parseInt(g, 16)), ...tail);
  return groups.length === 8 ? groups : undefined;
}

// Inside IPv6 text only the strict dotted quad is allowed (RFC 4291 §2.2 form 3).
function parseDottedQuad(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const b = m.slice(1).map(Number);
  if (b.some((x) => x > 255)) return undefined;
  return ((b[0]! << 24) >>> 0) + (b[1]! << 16) + (b[2]! << 8) + b[3]!;
}

/** The class of an IPv6 address (IANA IPv6 Special-Purpose Address Registry). */
export function classifyV6(g: number[]): HostClass {
  const embeddedV4 = () => ((g[6]! << 16) >>> 0) + g[7]!;
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  if (zeros(0, 8)) return { kind: "refused", range: "unspecified (::/128)" };
  if (zeros(0, 7) && g[7] === 1) return { kind: "refused", range: "loopback (::1/128)" };
  // Forms that carry an IPv4 address: judged by that address (a socket may use it as such).
  if (zeros(0, 5) && g[5] === 0xffff) return embedded("IPv4-mapped", classifyV4(embeddedV4()));
  if (zeros(0, 6)) return embedded("IPv4-compatible", classifyV4(embeddedV4()));
  if (zeros(0, 4) && g[4] === 0xffff && g[5] === 0) return embedded("IPv4-translated", classifyV4(embeddedV4()));
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return embedded("NAT64", classifyV4(embeddedV4()));
  if (g[0] === 0x2002) return embedded("6to4", classifyV4(((g[1]! << 16) >>> 0) + g[2]!));
  if (g[0] === 0x64 && g[1] === 0xff9b && g[2] === 1) return { kind: "refused", range: "local-use NAT64 (64:ff9b:1::/48)" };
  if (g[0] === 0x100 && zeros(1, 4)) return { kind: "refused", range: "discard-only (100::/64)" };
  if (g[0] === 0x2001 && g[1]! < 0x200) return { kind: "refused", range: "IETF protocol assignments / Teredo (2001::/23)" };
  if (g[0] === 0x2001 && g[1] === 0xdb8) return { kind: "refused", range: "documentation (2001:db8::/32)" };
  if (g[0] === 0x3fff && (g[1]! & 0xf000) === 0) return { kind: "refused", range: "documentation (3fff::/20)" };
  if ((g[0]! & 0xfe00) === 0xfc00) return { kind: "refused", range: "unique local (fc00::/7)" };
  if ((g[0]! & 0xffc0) === 0xfe80) return { kind: "refused", range: "link-local (fe80::/10)" };
  if ((g[0]! & 0xffc0) === 0xfec0) return { kind: "refused", range: "site-local (fec0::/10)" };
  if ((g[0]! & 0xff00) === 0xff00) return { kind: "refused", range: "multicast (ff00::/8)" };
  // Only global unicast (2000::/3) is routed on the Internet today.
  if ((g[0]! & 0xe000) !== 0x2000) return { kind: "refused", range: "not global unicast (outside 2000::/3)" };
  return { kind: "public", address: g.map((x) => x.toString(16)).join(":") };
}

function embedded(form: string, inner: HostClass): HostClass {
  return inner.kind === "refused" ? { kind: "refused", range: `${form} ${inner.range}` } : inner;
}

/** Names that never mean a host on the Internet (RFC 6761 localhost, mDNS .local, metadata services). */
const LOCAL_NAMES = /(^|\.)(localhost|local|internal|localdomain|home\.arpa)$/;

/**
 * Classifies a host as dialled by connect(): a literal address (any spelling), a special name, or a
 * DNS name whose addresses must still be looked up. Trailing dots are ignored, case too.
 */
export function classifyHost(host: string): HostClass {
  const h = host.trim().toLowerCase().replace(/\.+$/, "");
  if (h === "") return { kind: "refused", range: "empty host" };
  const v6 = parseV6(h);
  if (v6) return classifyV6(v6);
  if (h.includes(":")) return { kind: "refused", range: "unparsable IPv6 literal" };
  const v4 = parseV4(h);
  if (v4 !== undefined) return classifyV4(v4);
  // A name made only of digits, dots and hex prefixes that inet_aton refused (e.g. "1.2.3.4.5",
  // "0x1.0x2.0x3.0x4.0x5"): no DNS name looks like that; refuse rather than guess.
  if (/^[0-9.]+$/.test(h) || /^(0x[0-9a-f]*\.?)+$/.test(h)) return { kind: "refused", range: "malformed IPv4 literal" };
  if (LOCAL_NAMES.test(h)) return { kind: "refused", range: "local-only name" };
  return { kind: "name" };
}
