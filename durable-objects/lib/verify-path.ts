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
import { cachedAuthority, locateAuthority } from "./authority.js";
import type { Target } from "../../src/resolve/resolver.js";
import { authorityLinkStub } from "./stubs.js";
import { directBudget, type Budget } from "./budget-client.js";
import { linkDown, linkKnownUp, sawLinkUp } from "./links-up.js";
import { CoalescedCall } from "./coalesced-call.js";

export interface VerifyRequest {
  from: Domain;
  to: Domain;
  id: string;
  key: string;
}

/** Why a verification (or its warm-up) was not started: over budget, or no authority found. */
type NotStarted = "resource-constraint" | "remote-server-not-found";

/**
 * A verification's place in the budget (VerifyBudget lease, bound to the authority's address) and
 * where the authority is. A header warm-up takes one and hands it to the claim that follows it
 * (issue 11: one lease, one token and one set of budget calls per pair, not two).
 */
export interface HeldLease {
  remote: Domain;
  key: string;
  targets: Target[];
  lease: string;
}

/**
 * The budget and location steps both paths share, in the order issue 10 needs: the limits that need
 * only the sender's registrable parent first, so a claim over budget costs no DNS lookup (2 x 1,000
 * claims for *.evil.test each cost a DoH query), then the lookup, then the limits of the address.
 * A sender located within the last minute (lib/authority.ts cache) needs no lookup: both steps then
 * go in one call (VerifyBudget.admit).
 */
async function acquire(env: Env, remote: Domain, budget: Budget): Promise<HeldLease | NotStarted> {
  const parent = registrableParent(remote);
  const known = cachedAuthority(remote);
  if (known && !known.ok) return known.condition;
  if (known) {
    const a = await budget.admit(parent, known.key);
    return a.ok ? { remote, key: known.key, targets: known.targets, lease: a.lease } : "resource-constraint";
  }
  const admission = await budget.admitParent(parent);
  if (!admission.ok) return "resource-constraint";
  const config = await edgeConfig(env);
  let where;
  try {
    where = await locateAuthority(env, config, remote);
  } catch (err) {
    await budget.release(admission.lease).catch(() => {});
    throw err;
  }
  if (!where.ok) {
    await budget.release(admission.lease).catch(() => {});
    return where.condition;
  }
  // A refused bind gives the lease back itself.
  const bound = await budget.bind(admission.lease, where.key);
  if (!bound.ok) return "resource-constraint";
  return { remote, key: where.key, targets: where.targets, lease: admission.lease };
}

/** Gives a lease back (the verification ended, or a warm-up's lease was not claimed). */
export function releaseLease(calls: AuthorityCalls, held: HeldLease): Promise<unknown> {
  return calls.budget.release(held.lease).catch(() => {});
}

/**
 * Asks the authority of `req.to`, with `held` (the header warm-up's lease for that domain) when
 * there is one, else a lease of its own; the lease goes back when the answer is in.
 */
export async function verifyWithAuthority(
  env: Env,
  req: VerifyRequest,
  waitUntil: (p: Promise<unknown>) => void,
  held?: HeldLease,
  calls: AuthorityCalls = new AuthorityCalls(env),
): Promise<VerifyOutcome> {
  const got = held && held.remote === req.to ? held : await acquire(env, req.to, calls.budget);
  if (typeof got === "string") return { type: "error", condition: got };
  try {
    const outcome = await calls.verify(got.key, req, got.targets);
    if (outcome.type === "error") linkDown(got.key);
    else sawLinkUp(got.key);
    return outcome;
  } finally {
    waitUntil(releaseLease(calls, got));
  }
}

/**
 * Issue 11.6: a receiving stream's header names the sender domain (RFC 6120 §4.7.1 `from`) one round
 * trip before its db:result can arrive (the peer waits for our features). Opening the pooled link to
 * that domain's authority then, instead of at the claim, takes the TCP handshake and the stream
 * header exchange with the authority off the peer's path: the db:verify goes out as soon as the
 * db:result is read. It is the claim's own work done early, within the same budget (a lease from
 * VerifyBudget for the parent, then for the address, spending one token toward it), the same
 * resolution (cached) and the same SSRF guard (at dial time); a header costs at most one warm-up
 * (one per stream); no link call when this isolate saw the address's link up just now (lib/links-up.ts).
 * Resolves with the lease, which the stream keeps for the claim that follows
 * (lib/inbound-stream.ts gives it back if none comes soon); undefined when nothing was started.
 */
export async function warmAuthority(
  env: Env,
  local: Domain,
  remote: Domain,
  calls: AuthorityCalls = new AuthorityCalls(env),
): Promise<HeldLease | undefined> {
  const got = await acquire(env, remote, calls.budget);
  if (typeof got === "string") return undefined;
  if (linkKnownUp(got.key)) return got;
  const call = async () => {
    await authorityLinkStub(env, got.key).warm({ from: local, to: remote }, got.key, got.targets);
    sawLinkUp(got.key);
  };
  try {
    await calls.warm(got.key, call);
  } catch {
    // The link did not come up now; the claim will try again with this lease.
  }
  return got;
}

/**
 * The calls one Durable Object makes to the authority links (issue 11). A call to another DO costs
 * the runtime ~2 ms of CPU whatever it carries (measured under `wrangler dev`), and a multi-vhost
 * server connects all its domains at once: the header warm-ups for one address while one is in
 * flight share its call, and the verifications for one address go in batches (a few batches in
 * flight per address, the claims that arrive meanwhile in the next: lib/coalesced-call.ts), so a burst of
 * 200 claims costs a few calls, not 200. An idle address's claim goes at once, alone. Per DO: a
 * promise is awaited only where it was made, and a stub is used only by the DO that made it. `budget`
 * is the DO's way to the verification budget (lib/budget-client.ts: batched for a DO with many
 * streams). A caller without a DO-wide instance makes one for its call, which then goes alone.
 */
export class AuthorityCalls {
  readonly #warms = new Map<string, Promise<void>>();
  readonly #verifies = new Map<string, CoalescedCall<{ req: VerifyRequest; targets: Target[] }, VerifyOutcome>>();

  constructor(
    private readonly env: Env,
    readonly budget: Budget = directBudget(env),
  ) {}

  /** Runs `start` unless a warm-up for `key` is in flight, which is then shared. */
  warm(key: string, start: () => Promise<void>): Promise<void> {
    const inFlight = this.#warms.get(key);
    if (inFlight) return inFlight;
    const p = start().finally(() => this.#warms.delete(key));
    this.#warms.set(key, p);
    return p;
  }

  verify(key: string, req: VerifyRequest, targets: Target[]): Promise<VerifyOutcome> {
    let calls = this.#verifies.get(key);
    if (!calls) {
      // Bounded: a batcher dropped here still answers its callers; the address gets a new one.
      if (this.#verifies.size >= MAX_ADDRESSES) this.#verifies.delete(this.#verifies.keys().next().value!);
      calls = new CoalescedCall(
        (items: { req: VerifyRequest; targets: Target[] }[]) => authorityLinkStub(this.env, key).verifyMany(items, key),
        256,
        VERIFY_BATCHES_IN_FLIGHT,
      );
      this.#verifies.set(key, calls);
    }
    return calls.call({ req, targets });
  }
}

/** Authority addresses one DO keeps a verification batcher for. */
const MAX_ADDRESSES = 256;
/**
 * Verification batches in flight per address: a batch is answered when its slowest claim is (up to
 * the verification deadline), so a few may be in flight at once and a slow one holds only its own.
 */
const VERIFY_BATCHES_IN_FLIGHT = 4;

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
