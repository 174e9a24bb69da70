// Issue 10 defect 7 (SSRF): which outbound targets the edge may dial. Every special-purpose range in
// every literal spelling is refused; global unicast literals and DNS names pass to the next check;
// names are judged by their DoH A/AAAA answers.
import { describe, expect, it } from "vitest";
import { classifyHost, parseV4, parseV6 } from "../../src/resolve/address-class.js";
import type { FetchLike } from "../../src/resolve/doh.js";
import { checkTarget } from "../../src/resolve/target-guard.js";

const kind = (h: string) => classifyHost(h).kind;

describe("classifyHost: refused literals", () => {
  const refused = [
    // IPv4 special-purpose blocks
    "127.0.0.1", "127.255.255.254", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
    "169.254.169.254", "100.64.0.1", "100.127.255.255", "0.0.0.0", "0.1.2.3", "255.255.255.255",
    "224.0.0.1", "239.255.255.250", "240.0.0.1", "192.0.2.1", "198.51.100.7", "203.0.113.9",
    "198.18.0.1", "198.19.255.255", "192.0.0.8", "192.88.99.1",
    // other spellings of 127.0.0.1 and 169.254.169.254 (inet_aton)
    "2130706433", "0x7f000001", "0x7f.0.0.1", "0177.0.0.1", "0177.0.0.01", "127.1", "127.0.1",
    "2852039166", "0xa9.0xfe.0xa9.0xfe", "0251.0376.0251.0376", "169.254.43518",
    // trailing dot, case
    "127.0.0.1.", "LOCALHOST", "localhost.",
    // IPv6
    "::", "::1", "[::1]", "0:0:0:0:0:0:0:1", "fe80::1", "fe80::1%eth0", "fc00::1", "fd12:3456::1",
    "ff02::1", "2001:db8::1", "3fff::1", "fec0::1", "100::1", "64:ff9b:1::1",
    // IPv6 forms embedding a private IPv4 address
    "::ffff:127.0.0.1", "::ffff:7f00:1", "[::ffff:169.254.169.254]", "::ffff:a9fe:a9fe", "::127.0.0.1",
    "64:ff9b::10.0.0.1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::1", "2002:c0a8:101::", "::ffff:0:127.0.0.1",
    // names that never mean an Internet host
    "localhost", "foo.localhost", "metadata.google.internal", "printer.local", "router.home.arpa",
    // digit strings inet_aton refuses: not a DNS name either
    "1.2.3.4.5", "999.1.1.1", "",
  ];
  for (const h of refused) it(`${JSON.stringify(h)} is refused`, () => expect(kind(h)).toBe("refused"));
});

describe("classifyHost: allowed", () => {
  for (const h of ["8.8.8.8", "1.1.1.1", "93.184.216.34", "100.63.255.255", "100.128.0.0", "172.32.0.1", "169.253.1.1", "192.0.3.1", "2606:4700:4700::1111", "2a01:4f8::1", "::ffff:8.8.8.8", "2002:0808:0808::1", "64:ff9b::8.8.8.8"]) {
    it(`${h} is public`, () => expect(kind(h)).toBe("public"));
  }
  for (const h of ["xmpp.example.org", "example.org", "1e100.net", "0x.example", "a.b.c.d.e"]) {
    it(`${h} is a name to look up`, () => expect(kind(h)).toBe("name"));
  }
});

describe("literal parsers", () => {
  it("inet_aton forms", () => {
    expect(parseV4("127.1")).toBe(0x7f000001);
    expect(parseV4("0x7f.1")).toBe(0x7f000001);
    expect(parseV4("017700000001")).toBe(0x7f000001);
    expect(parseV4("256.1.1.1")).toBeUndefined();
    expect(parseV4("1.2.3.256")).toBeUndefined();
    expect(parseV4("4294967296")).toBeUndefined();
    expect(parseV4("08.1.1.1")).toBeUndefined();
  });
  it("IPv6 forms", () => {
    expect(parseV6("::ffff:1.2.3.4")).toEqual([0, 0, 0, 0, 0, 0xffff, 0x102, 0x304]);
    expect(parseV6("1:2:3:4:5:6:7:8")).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(parseV6("1::8")).toEqual([1, 0, 0, 0, 0, 0, 0, 8]);
    expect(parseV6("1:2:3:4:5:6:7:8:9")).toBeUndefined();
    expect(parseV6("1::2::3")).toBeUndefined();
    expect(parseV6("12345::1")).toBeUndefined();
  });
});

describe("checkTarget: names judged by their DoH A/AAAA answers", () => {
  const doh = (zone: Record<string, Record<string, string[]> | "fail">): FetchLike => async (url) => {
    const u = new URL(url);
    const entry = zone[u.searchParams.get("name")!];
    if (entry === "fail") return { ok: false, status: 502, json: async () => ({}) };
    const records = entry?.[u.searchParams.get("type")!];
    const type = u.searchParams.get("type") === "A" ? 1 : 28;
    return { ok: true, status: 200, json: async () => (entry ? { Status: 0, Answer: (records ?? []).map((data) => ({ type, data })) } : { Status: 3 }) };
  };
  const check = (host: string, zone: Parameters<typeof doh>[0]) => checkTarget(host, { fetch: doh(zone), dohUrl: "https://doh.test/dns-query" });

  it("a name with public addresses only is allowed", async () => {
    expect(await check("xmpp.example.org", { "xmpp.example.org": { A: ["93.184.216.34"], AAAA: ["2606:2800:220:1::1"] } })).toEqual({ ok: true });
  });
  it("a name resolving to loopback, metadata or a mapped private address is refused", async () => {
    for (const [A, AAAA] of [[["127.0.0.1"], []], [["93.184.216.34", "169.254.169.254"], []], [[], ["::ffff:10.0.0.1"]], [["93.184.216.34"], ["fd00::1"]]]) {
      const v = await check("evil.example", { "evil.example": { A: A!, AAAA: AAAA! } });
      expect(v.ok).toBe(false);
    }
  });
  it("a literal is judged without any lookup", async () => {
    expect((await check("127.0.0.1", {})).ok).toBe(false);
    expect(await check("8.8.8.8", {})).toEqual({ ok: true });
  });
  it("a name that cannot be checked (resolver failure, no address) is refused", async () => {
    expect((await check("broken.example", { "broken.example": "fail" })).ok).toBe(false);
    expect((await check("nothing.example", {})).ok).toBe(false);
  });
});
