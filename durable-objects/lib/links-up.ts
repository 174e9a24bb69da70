// Which authority verification links (durable-objects/authority-link.ts) this isolate saw up lately,
// by address key. A header warm-up for an address whose link answered within LINK_UP_MS would find
// it up and do nothing, so it is skipped (lib/verify-path.ts): one RPC less per pair when a
// multi-vhost server connects many domains at once (issue 11). Only a hint, and data only (no stub
// is shared between Durable Objects): a link that ends forgets its entry when its DO runs in this
// isolate, and a link that closed unseen is opened by the verification itself.

const LINK_UP_MS = 5_000;
const MAX_ENTRIES = 1024;
const seen = new Map<string, number>();

export function sawLinkUp(key: string, now = Date.now()): void {
  seen.delete(key);
  if (seen.size >= MAX_ENTRIES) seen.delete(seen.keys().next().value!);
  seen.set(key, now);
}

export function linkDown(key: string): void {
  seen.delete(key);
}

export function linkKnownUp(key: string, now = Date.now()): boolean {
  const at = seen.get(key);
  return at !== undefined && now - at < LINK_UP_MS;
}
