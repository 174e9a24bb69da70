// Finding and connecting to a remote domain's S2S service: static route or DoH SRV (src/resolve),
// then connect() to each target in order until one answers. Targets that failed are remembered in
// the DO's storage (tried last for a while); the number of connections opened is counted there too.

import type { EdgeConfig } from "../../src/config.js";
import { DEFAULT_DOH_URL } from "../../src/resolve/doh.js";
import { FailedTargets, resolvePeer } from "../../src/resolve/resolver.js";
import type { Domain } from "../../src/types.js";
import type { Env } from "../../worker/env.js";
import type { SessionStore } from "./store.js";
import { TcpLink } from "./tcp-link.js";

export const CONNECT_TIMEOUT_MS = 10_000;

export type DialResult =
  | { ok: true; link: TcpLink }
  | { ok: false; condition: "remote-server-not-found"; detail: string };

export async function dial(env: Env, store: SessionStore, config: EdgeConfig, remote: Domain): Promise<DialResult> {
  const failed = FailedTargets.from(store.get<[string, number][]>("failed", true) ?? []);
  const resolution = await resolvePeer(remote, {
    staticRoutes: config.staticRoutes,
    fetch: (url, init) => fetch(url, init),
    dohUrl: env.DOH_URL ?? DEFAULT_DOH_URL,
    random: Math.random,
    failed,
    now: Date.now(),
  });
  if (!resolution.ok) return { ok: false, condition: resolution.condition, detail: resolution.reason };
  const errors: string[] = [];
  let link: TcpLink | undefined;
  for (const target of resolution.targets) {
    try {
      link = await TcpLink.open(target, remote, config.limits, CONNECT_TIMEOUT_MS);
      failed.markSucceeded(target);
      break;
    } catch (err) {
      failed.markFailed(target, Date.now());
      errors.push((err as Error).message);
    }
  }
  store.putJson("failed", failed.toJSON());
  if (!link) return { ok: false, condition: "remote-server-not-found", detail: `no target answered: ${errors.join("; ")}` };
  store.put("connections", String(Number(store.get("connections") ?? "0") + 1));
  return { ok: true, link };
}
