// Finds where to connect for a remote XMPP domain (RFC 6120 §3.2, XEP-0368): a static route wins;
// else SRV records for `_xmpps-server._tcp` (direct TLS) and `_xmpp-server._tcp` (STARTTLS) merged
// and ordered per RFC 2782; else the domain itself on 5269. Targets that failed recently are tried
// last, so one dead host does not cost every new stream a connect timeout.

import type { StaticRoute } from "../config.js";
import type { Domain } from "../types.js";
import { querySrv, type FetchLike } from "./doh.js";
import { orderSrv, type Random, type SrvRecord } from "./srv.js";

export interface Target {
  host: string;
  port: number;
  /** XEP-0368: TLS from the first byte. False: plaintext, STARTTLS when offered. */
  directTls: boolean;
  source: "static" | "srv" | "fallback";
}

export type Resolution =
  /**
   * `dohErrors`: SRV lookups that failed (resolver unreachable, HTTP error, SERVFAIL): the edge
   * carries on with what it has (the RFC 6120 §3.2.1 fallback when nothing), but a diagnosis must
   * not call that "no SRV records".
   */
  | { ok: true; targets: Target[]; dohErrors?: string[] }
  /** RFC 2782 "." target on every SRV name: the domain says it offers no S2S service. */
  | { ok: false; condition: "remote-server-not-found"; reason: string };

export interface ResolverDeps {
  staticRoutes: ReadonlyMap<Domain, StaticRoute>;
  fetch: FetchLike;
  dohUrl: string;
  random: Random;
  failed?: FailedTargets;
  now: number;
}

/** The standard S2S port (RFC 6120 §14.7). */
export const DEFAULT_S2S_PORT = 5269;

export async function resolvePeer(domain: Domain, deps: ResolverDeps): Promise<Resolution> {
  const route = deps.staticRoutes.get(domain);
  if (route) return { ok: true, targets: [{ host: route.host, port: route.port, directTls: false, source: "static" }] };

  const [tls, plain] = await Promise.all([
    querySrv(deps.fetch, deps.dohUrl, `_xmpps-server._tcp.${domain}`),
    querySrv(deps.fetch, deps.dohUrl, `_xmpp-server._tcp.${domain}`),
  ]);
  const dohErrors = ([[tls, "_xmpps-server._tcp"], [plain, "_xmpp-server._tcp"]] as const).flatMap(([a, name]) =>
    a.kind === "error" ? [`${name}.${domain} SRV: ${a.reason}`] : [],
  );
  const errors = dohErrors.length > 0 ? { dohErrors } : {};
  const tagged: (SrvRecord & { directTls: boolean })[] = [];
  let refusals = 0;
  for (const [answer, directTls] of [[tls, true], [plain, false]] as const) {
    if (answer.kind !== "records") continue;
    // RFC 2782: a single record with target "." means the service is decidedly not available.
    if (answer.records.length === 1 && answer.records[0]!.target === ".") {
      refusals++;
      continue;
    }
    for (const r of answer.records) if (r.target !== ".") tagged.push({ ...r, directTls });
  }
  if (tagged.length === 0) {
    const bothRefused = refusals === 2 || (refusals === 1 && (tls.kind === "none" || plain.kind === "none"));
    if (refusals > 0 && bothRefused) {
      return { ok: false, condition: "remote-server-not-found", reason: `${domain} publishes "." SRV records: no S2S service` };
    }
    // RFC 6120 §3.2.1 fallback: no usable SRV answer, so try the domain's own address records.
    return { ok: true, targets: [{ host: domain, port: DEFAULT_S2S_PORT, directTls: false, source: "fallback" }], ...errors };
  }
  // XEP-0368 §3: both record sets are merged and ordered together by priority and weight.
  const ordered = orderSrv(tagged, deps.random).map(
    (r): Target => ({ host: r.target, port: r.port, directTls: r.directTls, source: "srv" }),
  );
  return { ok: true, targets: deps.failed ? deps.failed.demote(ordered, deps.now) : ordered, ...errors };
}

/** Remembers targets that failed to connect, for `ttlMs`, and moves them to the end of a list. */
export class FailedTargets {
  readonly #until = new Map<string, number>();
  constructor(readonly ttlMs = 10 * 60_000) {}

  static key(t: Pick<Target, "host" | "port" | "directTls">): string {
    return `${t.directTls ? "tls" : "tcp"}:${t.host}:${t.port}`;
  }

  markFailed(t: Target, now: number): void {
    this.#until.set(FailedTargets.key(t), now + this.ttlMs);
  }

  markSucceeded(t: Target): void {
    this.#until.delete(FailedTargets.key(t));
  }

  isFailed(t: Target, now: number): boolean {
    const until = this.#until.get(FailedTargets.key(t));
    if (until === undefined) return false;
    if (until <= now) {
      this.#until.delete(FailedTargets.key(t));
      return false;
    }
    return true;
  }

  /** Stable: healthy targets keep their order, failed ones follow in theirs. */
  demote(targets: readonly Target[], now: number): Target[] {
    const ok = targets.filter((t) => !this.isFailed(t, now));
    return [...ok, ...targets.filter((t) => this.isFailed(t, now))];
  }

  /** JSON-serialisable, for a Durable Object to persist. */
  toJSON(): [string, number][] {
    return [...this.#until];
  }

  static from(entries: readonly [string, number][], ttlMs?: number): FailedTargets {
    const f = new FailedTargets(ttlMs);
    for (const [k, v] of entries) f.#until.set(k, v);
    return f;
  }
}
