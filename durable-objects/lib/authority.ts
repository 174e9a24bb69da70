// Where a sender domain's Authoritative Server is (XEP-0220 §2.1.2 step 2, RFC 6120 §3.2, XEP-0368):
// the resolved targets and the address key the verification budget and pool are keyed by, i.e. the
// first target's TLS mode, host and port ("tls:xmpp.example.org:5270"). Answers are cached in the
// isolate for a minute (bounded), so a burst of claims for one domain costs one DoH round.

import type { EdgeConfig } from "../../src/config.js";
import { FailedTargets, resolvePeer, type Target } from "../../src/resolve/resolver.js";
import type { Domain } from "../../src/types.js";
import type { Env } from "../env.js";
import { dohFetch } from "./deadline.js";

export type Located =
  | { ok: true; key: string; targets: Target[] }
  | { ok: false; condition: "remote-server-not-found"; detail: string };

const TTL_MS = 60_000;
const MAX_ENTRIES = 10_000;
const cache = new Map<string, { at: number; located: Located }>();

/** The address key of a target: TLS mode, host, port (XEP-0220 §3 "the same IP address and port"). */
export const targetKey = (t: Pick<Target, "host" | "port" | "directTls">) => FailedTargets.key(t);

/** The cached answer for `domain` when it is fresh (no lookup, no await), else undefined. */
export function cachedAuthority(domain: Domain, now = Date.now()): Located | undefined {
  const hit = cache.get(domain);
  return hit && now - hit.at < TTL_MS ? hit.located : undefined;
}

/**
 * Resolves `domain`. SRV weights are not randomised here: the same answer must give the same key for
 * every domain that shares it, or the pool would split over the equal-priority targets.
 */
export async function locateAuthority(env: Env, config: EdgeConfig, domain: Domain, now = Date.now()): Promise<Located> {
  const hit = cache.get(domain);
  if (hit && now - hit.at < TTL_MS) return hit.located;
  const r = await resolvePeer(domain, {
    staticRoutes: config.staticRoutes,
    fetch: dohFetch(config.timeouts.dohMs),
    dohUrl: config.dohUrl,
    random: () => 0,
    now,
  });
  const located: Located = r.ok ? { ok: true, key: targetKey(r.targets[0]!), targets: r.targets } : { ok: false, condition: r.condition, detail: r.reason };
  if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value!);
  cache.set(domain, { at: now, located });
  return located;
}
