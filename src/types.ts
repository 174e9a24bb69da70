// Branded identifiers shared by the whole core. Brands stop a stream id being passed where a
// domain is expected (and a remote domain where a local one is): mixups that dialback bugs are made of.

declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

/** A normalized DNS domain (lowercase A-labels, no trailing dot). Build with `toDomain`. */
export type Domain = Brand<string, "Domain">;
/** An RFC 6120 stream id, at least 128 bits of randomness when we mint it. */
export type StreamId = Brand<string, "StreamId">;

/** Trusts that `s` is already normalized; use `normalizeDomain` for untrusted input. */
export const asDomain = (s: string): Domain => s as Domain;
export const asStreamId = (s: string): StreamId => s as StreamId;

/**
 * Normalizes a domain as RFC 6120 §3.2 / RFC 7622 want it compared: IDNA to A-labels (via the WHATWG
 * URL host parser, available in Node and workerd), lowercase, no trailing dot. Returns undefined for
 * anything that is not a plain DNS name (IP literals are refused: S2S peers are domains), and any
 * '%': the URL parser would percent-decode it ("a%2eb" -> "a.b"), DNS and XMPP never do.
 */
export function normalizeDomain(input: string): Domain | undefined {
  const trimmed = input.trim().replace(/\.$/, "");
  // '%': the URL host parser would percent-decode it, so `%41` would pass as `a`.
  if (trimmed === "" || trimmed.length > 253 || /[\s/@:?#[\]\\%]/.test(trimmed)) return undefined;
  let host: string;
  try {
    host = new URL(`http://${trimmed}/`).hostname;
  } catch {
    return undefined;
  }
  if (host === "" || /^[0-9.]+$/.test(host) || host.startsWith("[")) return undefined;
  const labels = host.split(".");
  if (labels.some((l) => l.length === 0 || l.length > 63 || !/^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$/.test(l))) {
    return undefined;
  }
  return host as Domain;
}

/** Stream ids: 128 bits from the CSPRNG, hex (RFC 6120 §4.7.3 wants them unpredictable). */
export function newStreamId(): StreamId {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return toHex(bytes) as StreamId;
}

export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}
