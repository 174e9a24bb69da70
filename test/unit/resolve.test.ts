import { describe, expect, it } from "vitest";
import type { FetchLike } from "../../src/resolve/doh.js";
import { FailedTargets, resolvePeer, type ResolverDeps } from "../../src/resolve/resolver.js";
import { orderSrv, parseSrvData } from "../../src/resolve/srv.js";
import { asDomain } from "../../src/types.js";

type Zone = Record<string, { Status: number; Answer?: { type: number; data: string }[] } | "http500" | "throw">;

function dohFrom(zone: Zone, seen: string[] = []): FetchLike {
  return async (url) => {
    const name = new URL(url).searchParams.get("name")!;
    seen.push(url);
    const entry = zone[name] ?? { Status: 3 };
    if (entry === "throw") throw new Error("connection refused");
    if (entry === "http500") return { ok: false, status: 500, json: async () => ({}) };
    return { ok: true, status: 200, json: async () => entry };
  };
}

const srv = (...data: string[]) => ({ Status: 0, Answer: data.map((d) => ({ type: 33, data: d })) });

function deps(zone: Zone, extra: Partial<ResolverDeps> = {}): ResolverDeps {
  return {
    staticRoutes: new Map(),
    fetch: dohFrom(zone),
    dohUrl: "https://doh.test/dns-query",
    random: () => 0,
    now: 1000,
    ...extra,
  };
}

describe("SRV ordering (RFC 2782)", () => {
  it("orders by priority, then by weighted choice driven by the injected randomness", () => {
    const records = [
      { priority: 20, weight: 0, port: 1, target: "c" },
      { priority: 10, weight: 10, port: 1, target: "a" },
      { priority: 10, weight: 90, port: 1, target: "b" },
    ];
    // random 0 -> pick 0 -> first record whose running sum >= 0 (a); random 0.99 -> 99 -> b first.
    expect(orderSrv(records, () => 0).map((r) => r.target)).toEqual(["a", "b", "c"]);
    expect(orderSrv(records, () => 0.99).map((r) => r.target)).toEqual(["b", "a", "c"]);
  });

  it("puts zero-weight records first within a priority, as the RFC's selection algorithm wants", () => {
    const records = [
      { priority: 5, weight: 50, port: 1, target: "heavy" },
      { priority: 5, weight: 0, port: 1, target: "zero" },
    ];
    expect(orderSrv(records, () => 0).map((r) => r.target)).toEqual(["zero", "heavy"]);
  });

  it("parses DoH SRV data and refuses malformed data", () => {
    expect(parseSrvData("10 5 5269 XMPP.Example.org.")).toEqual({ priority: 10, weight: 5, port: 5269, target: "xmpp.example.org" });
    expect(parseSrvData("0 0 0 .")).toEqual({ priority: 0, weight: 0, port: 0, target: "." });
    expect(parseSrvData("10 5 99999 host.")).toBeUndefined();
    expect(parseSrvData("garbage")).toBeUndefined();
  });
});

describe("resolvePeer", () => {
  const d = asDomain("example.org");

  it("uses a static route without asking DNS", async () => {
    const seen: string[] = [];
    const r = await resolvePeer(d, deps({}, {
      staticRoutes: new Map([[d, { host: "127.0.0.1", port: 25269 }]]),
      fetch: dohFrom({}, seen),
    }));
    expect(r).toEqual({ ok: true, targets: [{ host: "127.0.0.1", port: 25269, directTls: false, source: "static" }] });
    expect(seen).toEqual([]);
  });

  it("merges _xmpps-server (direct TLS) and _xmpp-server (STARTTLS) records by priority", async () => {
    const seen: string[] = [];
    const r = await resolvePeer(d, deps({
      "_xmpps-server._tcp.example.org": srv("5 0 5270 tls.example.org."),
      "_xmpp-server._tcp.example.org": srv("10 0 5269 a.example.org.", "1 0 5269 first.example.org."),
    }, { fetch: dohFrom({
      "_xmpps-server._tcp.example.org": srv("5 0 5270 tls.example.org."),
      "_xmpp-server._tcp.example.org": srv("10 0 5269 a.example.org.", "1 0 5269 first.example.org."),
    }, seen) }));
    expect(r.ok && r.targets).toEqual([
      { host: "first.example.org", port: 5269, directTls: false, source: "srv" },
      { host: "tls.example.org", port: 5270, directTls: true, source: "srv" },
      { host: "a.example.org", port: 5269, directTls: false, source: "srv" },
    ]);
    expect(seen.every((u) => u.startsWith("https://doh.test/dns-query?") && u.includes("type=SRV"))).toBe(true);
  });

  it("falls back to the domain on 5269 when there are no SRV records (RFC 6120 §3.2.1)", async () => {
    const r = await resolvePeer(d, deps({}));
    expect(r).toEqual({ ok: true, targets: [{ host: "example.org", port: 5269, directTls: false, source: "fallback" }] });
  });

  it("falls back when the resolver fails rather than giving up", async () => {
    for (const failure of ["http500", "throw", { Status: 2 }] as const) {
      const r = await resolvePeer(d, deps({
        "_xmpps-server._tcp.example.org": failure,
        "_xmpp-server._tcp.example.org": failure,
      }));
      expect(r.ok && r.targets[0]).toMatchObject({ host: "example.org", port: 5269, source: "fallback" });
    }
  });

  it("treats a '.' target as 'no service': remote-server-not-found, no fallback", async () => {
    const r = await resolvePeer(d, deps({ "_xmpp-server._tcp.example.org": srv("0 0 0 .") }));
    expect(r).toMatchObject({ ok: false, condition: "remote-server-not-found" });
  });

  it("ignores a '.' on one name when the other has real targets", async () => {
    const r = await resolvePeer(d, deps({
      "_xmpps-server._tcp.example.org": srv("0 0 0 ."),
      "_xmpp-server._tcp.example.org": srv("0 0 5269 x.example.org."),
    }));
    expect(r.ok && r.targets.map((t) => t.host)).toEqual(["x.example.org"]);
  });

  it("tries targets that failed recently last, until the memory expires", async () => {
    const zone = { "_xmpp-server._tcp.example.org": srv("1 0 5269 a.example.org.", "2 0 5269 b.example.org.") };
    const failed = new FailedTargets(60_000);
    failed.markFailed({ host: "a.example.org", port: 5269, directTls: false, source: "srv" }, 1000);
    let r = await resolvePeer(d, deps(zone, { failed, now: 2000 }));
    expect(r.ok && r.targets.map((t) => t.host)).toEqual(["b.example.org", "a.example.org"]);
    r = await resolvePeer(d, deps(zone, { failed: FailedTargets.from(failed.toJSON(), 60_000), now: 61_001 }));
    expect(r.ok && r.targets.map((t) => t.host)).toEqual(["a.example.org", "b.example.org"]);
  });
});
