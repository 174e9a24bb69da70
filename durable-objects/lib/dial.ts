// Finding and connecting to a remote domain's S2S service: static route or DoH SRV (src/resolve),
// then connect() to each target in order until one answers. Targets that failed are remembered in
// the DO's storage (tried last for a while); the number of connections opened is counted there too.
// Every target outside S2S_STATIC_ROUTES is checked first (src/resolve/target-guard.ts): loopback,
// private, link-local, metadata and other non-global addresses are never dialled (issue 10 defect 7),
// except under EDGE_ENV=development; each refusal is written to the audit log.

import type { EdgeConfig } from "../../src/config.js";
import { FailedTargets, resolvePeer, type Target } from "../../src/resolve/resolver.js";
import { checkTarget } from "../../src/resolve/target-guard.js";
import type { Domain } from "../../src/types.js";
import type { Env } from "../env.js";
import type { KeyValueStore } from "./store.js";
import { TcpLink, type OutboundLink } from "./tcp-link.js";
import { EgressLink } from "./egress-link.js";
import { dohFetch } from "./deadline.js";
import { log } from "./log.js";

export const CONNECT_TIMEOUT_MS = 10_000;

export type DialResult =
  | {
      ok: true;
      link: OutboundLink;
      /**
       * Persists what the dial learnt (failed targets, the connection count). The caller calls it
       * after its stream header went out: a storage write made before a send holds the send until it
       * is committed (the output gate), which held every new outbound header ~7 ms (issue 11.6).
       */
      record(): void;
    }
  | { ok: false; condition: "remote-server-not-found"; detail: string };

/** What the stream's policy says about this dial (known once the policy read is done). */
export interface DialPolicy {
  /** XEP-0238 type 1 uses no TLS: XEP-0368 direct TLS targets are skipped. */
  plaintextOnly: boolean;
  /** Through the gateway: a certificate that does not verify is acceptable (levels verified, encrypted). */
  acceptUntrusted: boolean;
}

export interface DialOptions {
  /** Already resolved (an authority link); else `remote` is resolved here. */
  targets?: Target[];
  /** Asked once the targets are known. */
  policy?: () => Promise<DialPolicy>;
  /** "connect" (connect()) or "gateway" (the gateway egress, issue 12); default per S2S_EGRESS. */
  via?: "connect" | "gateway";
  /** Our domain opening the stream (the gateway presents its certificate for it). */
  from: Domain;
}

export async function dial(env: Env, store: KeyValueStore, config: EdgeConfig, remote: Domain, opts: DialOptions): Promise<DialResult> {
  const targets = opts.targets;
  const failed = FailedTargets.from(store.get<[string, number][]>("failed", true) ?? []);
  const resolution = targets
    ? { ok: true as const, targets: failed.demote(targets, Date.now()) }
    : await resolvePeer(remote, {
        staticRoutes: config.staticRoutes,
        fetch: dohFetch(config.timeouts.dohMs),
        dohUrl: config.dohUrl,
        random: Math.random,
        failed,
        now: Date.now(),
      });
  if (!resolution.ok) return { ok: false, condition: resolution.condition, detail: resolution.reason };
  const errors: string[] = [];
  // Issue 12: S2S_EGRESS=gateway dials through the gateway; auto starts with connect() (the
  // caller redials via the gateway when TLS fails).
  const via = opts.via ?? (config.egress.mode === "gateway" ? "gateway" : "connect");
  // The policy (a ControlPlane read the caller started) matters only for direct TLS targets
  // (plaintextOnly drops them) and for the gateway (acceptUntrusted); connect() to plaintext/STARTTLS
  // targets does not wait for it (issue 11.6: it held every new outbound connection by a round trip).
  const needsPolicy = via === "gateway" || resolution.targets.some((t) => t.directTls);
  const pol: DialPolicy = (needsPolicy ? await opts.policy?.() : undefined) ?? { plaintextOnly: false, acceptUntrusted: false };
  if (pol.plaintextOnly) {
    const all = resolution.targets;
    resolution.targets = all.filter((t) => !t.directTls);
    if (resolution.targets.length === 0) return { ok: false, condition: "remote-server-not-found", detail: `only XEP-0368 direct TLS targets, and policy (xmppVersion 0.9) uses no TLS` };
  }
  let link: OutboundLink | undefined;
  for (const target of resolution.targets) {
    const refused = await refusal(env, config, target);
    if (refused) {
      errors.push(refused);
      audit(env, remote, target, refused);
      continue;
    }
    try {
      link = via === "gateway"
        ? await EgressLink.open(config.egress.url!, config.gatewayToken!, target, { domain: remote, from: opts.from, acceptUntrusted: pol.acceptUntrusted }, config.limits, CONNECT_TIMEOUT_MS)
        : await TcpLink.open(target, remote, config.limits, CONNECT_TIMEOUT_MS);
      failed.markSucceeded(target);
      break;
    } catch (err) {
      failed.markFailed(target, Date.now());
      errors.push((err as Error).message);
    }
  }
  if (!link) {
    store.putJson("failed", failed.toJSON());
    return { ok: false, condition: "remote-server-not-found", detail: `no target answered: ${errors.join("; ")}` };
  }
  const record = () => {
    store.putJson("failed", failed.toJSON());
    store.put("connections", String(Number(store.get("connections") ?? "0") + 1));
  };
  return { ok: true, link, record };
}

/** Why `target` must not be dialled, or undefined. Static routes are the operator's own choice. */
async function refusal(env: Env, config: EdgeConfig, target: Target): Promise<string | undefined> {
  if (target.source === "static" || config.development) return undefined;
  const verdict = await checkTarget(target.host, { fetch: dohFetch(config.timeouts.dohMs), dohUrl: config.dohUrl });
  return verdict.ok ? undefined : `refused ${target.host}:${target.port}: ${verdict.reason}`;
}

function audit(env: Env, remote: Domain, target: Target, detail: string): void {
  log(env, "warn", "outbound.address-refused", { remote, target: `${target.host}:${target.port}`, source: target.source, detail });
  const ns = env.CONTROL_PLANE as unknown as { idFromName(n: string): DurableObjectId; get(id: DurableObjectId): { recordAudit(e: unknown): Promise<void> } } | undefined;
  if (!ns) return;
  // Awaited by nobody: the audit log must never hold up (or fail) the dial.
  void ns.get(ns.idFromName("control")).recordAudit({
    kind: "outbound.address-refused", actor: "edge", subject: remote, detail: `${target.source} target ${detail}`,
  }).catch(() => {});
}
