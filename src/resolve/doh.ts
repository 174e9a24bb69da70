// SRV lookups over DNS-over-HTTPS, JSON API (application/dns-json, as served by Cloudflare's and
// Google's resolvers). The HTTP client is injected: src/ performs no I/O of its own.

import { parseSrvData, type SrvRecord } from "./srv.js";

export const DEFAULT_DOH_URL = "https://cloudflare-dns.com/dns-query";

/** The slice of `fetch` the resolver needs. */
export type FetchLike = (url: string, init: { headers: Record<string, string> }) => Promise<{
  ok: boolean;
  status: number;
  json(): Promise<unknown>;
}>;

export type SrvAnswer =
  /** Records found (possibly the single "." record that means "no service"). */
  | { kind: "records"; records: SrvRecord[] }
  /** NXDOMAIN or NOERROR without SRV records: the name has no SRV, fall back (RFC 6120 §3.2.1). */
  | { kind: "none" }
  /** The resolver failed (HTTP error, SERVFAIL, bad JSON): unknown, not "none". */
  | { kind: "error"; reason: string };

interface DohJson {
  Status?: number;
  Answer?: { name?: string; type?: number; data?: string }[];
}

const TYPE_SRV = 33;

export async function querySrv(fetch: FetchLike, dohUrl: string, name: string): Promise<SrvAnswer> {
  const url = new URL(dohUrl);
  url.searchParams.set("name", name);
  url.searchParams.set("type", "SRV");
  let body: DohJson;
  try {
    const res = await fetch(url.toString(), { headers: { accept: "application/dns-json" } });
    if (!res.ok) return { kind: "error", reason: `DoH resolver answered HTTP ${res.status}` };
    body = (await res.json()) as DohJson;
  } catch (err) {
    return { kind: "error", reason: `DoH resolver unreachable: ${(err as Error).message}` };
  }
  // RFC 1035 RCODEs: 0 NOERROR, 3 NXDOMAIN; anything else (2 SERVFAIL, 5 REFUSED) is a failure.
  if (body.Status === 3) return { kind: "none" };
  if (body.Status !== 0) return { kind: "error", reason: `DoH status ${String(body.Status)} for ${name}` };
  const records: SrvRecord[] = [];
  for (const a of body.Answer ?? []) {
    if (a.type !== TYPE_SRV || typeof a.data !== "string") continue; // CNAME chain links etc.
    const r = parseSrvData(a.data);
    if (r) records.push(r);
  }
  return records.length > 0 ? { kind: "records", records } : { kind: "none" };
}

export type AddressAnswer =
  | { kind: "addresses"; addresses: string[] }
  | { kind: "none" }
  | { kind: "error"; reason: string };

const TYPE_A = 1;
const TYPE_AAAA = 28;

/** A or AAAA records of `name` (CNAME chains are followed by the resolver; only the addresses are kept). */
export async function queryAddresses(fetch: FetchLike, dohUrl: string, name: string, type: "A" | "AAAA"): Promise<AddressAnswer> {
  const url = new URL(dohUrl);
  url.searchParams.set("name", name);
  url.searchParams.set("type", type);
  let body: DohJson;
  try {
    const res = await fetch(url.toString(), { headers: { accept: "application/dns-json" } });
    if (!res.ok) return { kind: "error", reason: `DoH resolver answered HTTP ${res.status}` };
    body = (await res.json()) as DohJson;
  } catch (err) {
    return { kind: "error", reason: `DoH resolver unreachable: ${(err as Error).message}` };
  }
  if (body.Status === 3) return { kind: "none" };
  if (body.Status !== 0) return { kind: "error", reason: `DoH status ${String(body.Status)} for ${name} ${type}` };
  const want = type === "A" ? TYPE_A : TYPE_AAAA;
  const addresses = (body.Answer ?? []).filter((a) => a.type === want && typeof a.data === "string").map((a) => a.data!.trim());
  return addresses.length > 0 ? { kind: "addresses", addresses } : { kind: "none" };
}
