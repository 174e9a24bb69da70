// The Effects a SessionHost needs, built from the environment: verification through the sender's
// RemoteDomain (its pooled authority stream), delivery to the application, and reports to the
// ControlPlane (index, audit, metrics) that never block the stream.

import type { Element } from "ltx";
import type { Env } from "../env.js";
import type { ShellAction } from "../../src/engine/index.js";
import type { Domain } from "../../src/types.js";
import type { Effects } from "./session-host.js";
import { remoteDomainStub } from "./stubs.js";
import { verifyWithAuthority, type AuthorityCalls, type HeldLease } from "./verify-path.js";
import { jidDomain } from "../../src/delivery/submit.js";

export interface EffectHooks {
  /** Sends a stanza from a hosted domain back to the peer (this stream if it may, else outbound). */
  reply(stanza: Element): void;
  /** Observes pair-state / audit / closed / verify-result. */
  observe(action: ShellAction): void;
  /** Before a batch of actions is carried out (Effects.prepare); awaited briefly. */
  prepare?(actions: readonly ShellAction[]): Promise<unknown> | undefined;
  /** Seconds a verification with the authority took (answered or failed). */
  verified?(seconds: number): void;
  /**
   * Persists a stanza for the application (lib/delivery-queue.ts), which then delivers it or bounces
   * it: never fire-and-forget, so an eviction cannot lose an accepted stanza.
   */
  accept(stanza: Element): void;
  /**
   * The lease of the verification link warm-up this stream started at its header (lib/verify-path.ts
   * warmAuthority) when it was for `remote` and is still unused: the claim waits for the warm-up and
   * takes its lease (one lease per pair, and never two at once for one claim).
   */
  takeWarmLease?(remote: Domain): Promise<HeldLease | undefined>;
  /** Keeps the DO up for background work (the budget lease's release). */
  waitUntil?(p: Promise<unknown>): void;
  /** The DO's calls to the budget and the authority links (lib/verify-path.ts); default: one each. */
  authorityCalls?: AuthorityCalls;
}

export function makeEffects(env: Env, hooks: EffectHooks): Effects {
  return {
    verify: async (req) => {
      // Timed for the verification latency histogram of /admin/v1/metrics (workerd's clock moves
      // across I/O, which this RPC is).
      const t0 = Date.now();
      try {
        const held = await hooks.takeWarmLease?.(req.to);
        return await verifyWithAuthority(env, req, hooks.waitUntil ?? ((p) => void p), held, hooks.authorityCalls);
      } finally {
        hooks.verified?.((Date.now() - t0) / 1000);
      }
    },
    deliver: (stanza) => hooks.accept(stanza),
    // An error reply for our application, which sent the original: delivered like inbound traffic.
    bounce: (stanza) => hooks.accept(stanza),
    // An error reply for the peer (RFC 6120 §8.3, e.g. jid-malformed): on its way like our app's replies.
    reply: (stanza) => hooks.reply(stanza),
    observe: (a) => hooks.observe(a),
    ...(hooks.prepare ? { prepare: hooks.prepare } : {}),
  };
}

/** Sends `stanza` (from a hosted domain) to its remote domain over the outbound stream. */
export function sendOutbound(env: Env, stanza: Element, remote: Domain, local: Domain): Promise<unknown> {
  return remoteDomainStub(env, remote).enqueue(local, stanza.toString());
}

/**
 * A reply from a hosted domain to a peer (an error for a stanza it sent) over the outbound stream to
 * the peer's domain; undefined when the stanza does not name both domains. Resolves once handed on.
 */
export function replyOutbound(env: Env, stanza: Element, waitUntil: (p: Promise<unknown>) => void): Promise<unknown> | undefined {
  const from = jidDomain(stanza.attrs.from);
  const to = jidDomain(stanza.attrs.to);
  if (!from || !to) return undefined;
  const sent = sendOutbound(env, stanza, to as Domain, from as Domain);
  waitUntil(sent);
  return sent;
}
