// The receiving role's verification (XEP-0220 §2.1.2 steps 2-3), as a stream's shell asks for it:
// take a lease from the edge-wide budget for the sender's registrable parent, locate the sender
// domain's Authoritative Server, bind the lease to its address
// (durable-objects/verify-budget.ts; over budget -> the dialback error resource-constraint, issue 10
// defect 4), then ask the authority over the link pooled per authority address
// (durable-objects/authority-link.ts, issue 11), and give the lease back.
// warmAuthority() does the same steps at the peer's stream header, before its db:result, so the
// connection to the authority is being made while the peer reads our features (issue 11.6).

import type { VerifyOutcome } from "../../src/engine/index.js";
import { registrableParent } from "../../src/budget/parent-domain.js";
import type { Domain } from "../../src/types.js";
import { toDomain } from "../../src/stream/addressing.js";
import type { ConnectionInfo } from "./connection-info.js";
import type { Env } from "../env.js";
import { edgeConfig } from "./config.js";
import { locateAuthority } from "./authority.js";
import type { Target } from "../../src/resolve/resolver.js";
import { authorityLinkStub, verifyBudgetStub } from "./stubs.js";

export interface VerifyRequest {
  from: Domain;
  to: Domain;
  id: string;
  key: string;
}

/** Why a verification (or its warm-up) was not started: over budget, or no authority found. */
type NotStarted = "resource-constraint" | "remote-server-not-found";

/**
 * The budget and location steps both paths share, in the order issue 10 needs: the limits that need
 * only the sender's registrable parent first, so a claim over budget costs no DNS lookup (2 x 1,000
 * claims for *.evil.test each cost a DoH query), then the lookup, then the limits of the address.
 * `use` runs with the lease held; `released` is handed the lease's release (wait for it, or not).
 */
async function withAuthorityLease<T>(
  env: Env,
  remote: Domain,
  notStarted: (condition: NotStarted) => T,
  use: (key: string, targets: Target[]) => Promise<T>,
  released: (release: Promise<unknown>) => unknown,
): Promise<T> {
  const budget = verifyBudgetStub(env);
  const admission = await budget.admitParent(registrableParent(remote));
  if (!admission.ok) return notStarted("resource-constraint");
  try {
    const config = await edgeConfig(env);
    const where = await locateAuthority(env, config, remote);
    if (!where.ok) return notStarted(where.condition);
    const bound = await budget.bind(admission.lease, where.key);
    if (!bound.ok) return notStarted("resource-constraint");
    return await use(where.key, where.targets);
  } finally {
    await released(budget.release(admission.lease).catch(() => {}));
  }
}

export function verifyWithAuthority(env: Env, req: VerifyRequest, waitUntil: (p: Promise<unknown>) => void): Promise<VerifyOutcome> {
  return withAuthorityLease<VerifyOutcome>(
    env,
    req.to,
    (condition) => ({ type: "error", condition }),
    (key, targets) => authorityLinkStub(env, key).verify(req, key, targets),
    waitUntil,
  );
}

/**
 * Issue 11.6: a receiving stream's header names the sender domain (RFC 6120 §4.7.1 `from`) one round
 * trip before its db:result can arrive (the peer waits for our features). Opening the pooled link to
 * that domain's authority then, instead of at the claim, takes the TCP handshake and the stream
 * header exchange with the authority off the peer's path: the db:verify goes out as soon as the
 * db:result is read. It is the claim's own work done early, within the same budget (a lease from
 * VerifyBudget for the parent, then for the address, spending one token toward it), the same
 * resolution (cached, so the claim's lookup costs nothing) and the same SSRF guard (at dial time);
 * a header costs at most one warm-up (one per stream), and an address with a link open costs none.
 * Resolves once the lease is given back (the claim waits for that: lib/effects.ts `warming`).
 */
export function warmAuthority(env: Env, local: Domain, remote: Domain): Promise<void> {
  return withAuthorityLease<void>(
    env,
    remote,
    () => undefined,
    (key, targets) => authorityLinkStub(env, key).warm({ from: local, to: remote }, key, targets),
    (release) => release,
  );
}

/**
 * The sender domain to warm a verification link for, from a receiving stream's first header, or
 * undefined: a peer that names no sender, names one of our domains, addresses a domain we do not
 * host, may authenticate by certificate (SASL EXTERNAL needs no verification), or whose domain
 * policy refuses (the claim would be refused without asking anyone).
 */
export function warmTarget(
  attrs: Record<string, string>,
  hosted: readonly string[],
  connection: Pick<ConnectionInfo, "certIdentities">,
  allowed: (remote: Domain) => boolean,
): { local: Domain; remote: Domain } | undefined {
  const remote = toDomain(attrs.from);
  const local = toDomain(attrs.to);
  if (!remote || !local || !hosted.includes(local) || hosted.includes(remote)) return undefined;
  if (connection.certIdentities.length > 0 || !allowed(remote)) return undefined;
  return { local, remote };
}
