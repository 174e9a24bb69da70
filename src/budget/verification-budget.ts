// The edge-wide budget for outbound verification work (issue 10 defect 4 and the rate half of
// defect 8). Every db:result a peer sends makes the Receiving Server ask the sender's Authoritative
// Server (XEP-0220 §2.1.2): a connection, a stream, a db:verify. Unbounded, 1,000 claims for distinct
// `*.evil.test` on each of 2 streams opened 2,000 connections. Each verification holds a lease from
// here while it is in flight, and is admitted only while every limit holds:
//   - in flight per authority address (the resolved host:port and TLS mode, after SRV),
//   - db:verify per second toward one authority address (a token bucket: a burst, then a rate), so
//     spoofed claims are not reflected at a victim's server without bound,
//   - in flight per registrable parent domain, and distinct authority addresses per parent (what
//     bounds connections when each subdomain's SRV points somewhere else),
//   - in flight in total, and distinct authority addresses in total.
// A refusal names the limit; the caller answers the claim with the dialback error resource-constraint
// (XEP-0220 §2.4), never with memory. Leases expire on their own (`leaseMs`) so a caller that died
// cannot hold budget forever. Pure: time is passed in.

export interface BudgetLimits {
  /** Verifications in flight edge-wide (VERIFY_MAX_PENDING). */
  maxPending: number;
  /** Distinct authority addresses with verifications in flight (VERIFY_MAX_AUTHORITIES). */
  maxAuthorities: number;
  /** In flight toward one authority address (VERIFY_MAX_PENDING_PER_AUTHORITY). */
  maxPendingPerAuthority: number;
  /** In flight for sender domains under one registrable parent (VERIFY_MAX_PENDING_PER_PARENT). */
  maxPendingPerParent: number;
  /** Distinct authority addresses in flight for one parent (VERIFY_MAX_AUTHORITIES_PER_PARENT). */
  maxAuthoritiesPerParent: number;
  /** Sustained db:verify per second toward one authority address (VERIFY_RATE_PER_AUTHORITY). */
  ratePerAuthority: number;
  /** Burst of db:verify toward one authority address (VERIFY_BURST_PER_AUTHORITY). */
  burstPerAuthority: number;
}

export const DEFAULT_BUDGET: BudgetLimits = {
  maxPending: 10_000,
  maxAuthorities: 256,
  maxPendingPerAuthority: 2_000,
  maxPendingPerParent: 256,
  maxAuthoritiesPerParent: 4,
  ratePerAuthority: 20,
  burstPerAuthority: 2_000,
};

export type Admission =
  | { ok: true; lease: string }
  | { ok: false; limit: keyof BudgetLimits; detail: string };

interface Lease {
  parent: string;
  /** Undefined between admitParent() and bind(). */
  authority: string | undefined;
  expires: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class VerificationBudget {
  readonly #leases = new Map<string, Lease>();
  readonly #perAuthority = new Map<string, number>();
  readonly #perParent = new Map<string, number>();
  /** parent -> authority -> verifications in flight. */
  readonly #parentAuthorities = new Map<string, Map<string, number>>();
  readonly #buckets = new Map<string, Bucket>();
  #next = 0;
  /** Refusals by limit since start (for logs and tests). */
  readonly refusals = new Map<keyof BudgetLimits, number>();

  constructor(
    readonly limits: BudgetLimits = DEFAULT_BUDGET,
    /** Longer than any verification can take: connect, negotiation and the verify deadline. */
    readonly leaseMs = 5 * 60_000,
  ) {}

  /** Verifications bound to an address so far (each spent one token toward it). */
  bound = 0;

  get pending(): number {
    return this.#leases.size;
  }

  get authorities(): number {
    return this.#perAuthority.size;
  }

  /** Both steps at once, for a caller that knows the authority already. */
  admit(req: { parent: string; authority: string }, now: number): Admission {
    const a = this.admitParent(req.parent, now);
    return a.ok ? this.bind(a.lease, req.authority, now) : a;
  }

  /**
   * Step 1, before anything costs I/O: the limits that need only the sender's registrable parent
   * (in flight edge-wide and under the parent). A claim refused here costs no DNS lookup, no
   * connection and nothing kept (issue 10 item 4). The lease holds its place until bind() or release().
   */
  admitParent(parent: string, now: number): Admission {
    this.#expire(now);
    const L = this.limits;
    if (this.#leases.size >= L.maxPending) return this.#refuse("maxPending", `${L.maxPending} verifications in flight edge-wide`);
    if ((this.#perParent.get(parent) ?? 0) >= L.maxPendingPerParent) {
      return this.#refuse("maxPendingPerParent", `${L.maxPendingPerParent} verifications in flight under ${parent}`);
    }
    const lease = String(++this.#next);
    this.#leases.set(lease, { parent, authority: undefined, expires: now + this.leaseMs });
    this.#perParent.set(parent, (this.#perParent.get(parent) ?? 0) + 1);
    return { ok: true, lease };
  }

  /**
   * Step 2, once the authority's address is known (after SRV): the limits per address. A refusal
   * releases the lease.
   */
  bind(lease: string, authority: string, now: number): Admission {
    this.#expire(now);
    const l = this.#leases.get(lease);
    if (!l) return this.#refuse("maxPending", "the verification's lease expired before its authority was known");
    if (l.authority !== undefined) return { ok: true, lease };
    const L = this.limits;
    const atAuthority = this.#perAuthority.get(authority) ?? 0;
    const underParent = this.#parentAuthorities.get(l.parent);
    const refuse = (limit: keyof BudgetLimits, detail: string): Admission => {
      this.release(lease);
      return this.#refuse(limit, detail);
    };
    if (atAuthority === 0 && this.#perAuthority.size >= L.maxAuthorities) {
      return refuse("maxAuthorities", `${L.maxAuthorities} authority addresses in use edge-wide`);
    }
    if (atAuthority >= L.maxPendingPerAuthority) return refuse("maxPendingPerAuthority", `${L.maxPendingPerAuthority} verifications in flight at ${authority}`);
    if (!underParent?.has(authority) && (underParent?.size ?? 0) >= L.maxAuthoritiesPerParent) {
      return refuse("maxAuthoritiesPerParent", `${L.maxAuthoritiesPerParent} authority addresses in use under ${l.parent}`);
    }
    // Token bucket last, so a refusal above spends no token.
    const b = this.#bucket(authority, now);
    if (b.tokens < 1) return refuse("ratePerAuthority", `more than ${L.ratePerAuthority} db:verify per second toward ${authority}`);
    b.tokens -= 1;
    this.bound++;

    l.authority = authority;
    this.#perAuthority.set(authority, atAuthority + 1);
    const m = underParent ?? new Map<string, number>();
    m.set(authority, (m.get(authority) ?? 0) + 1);
    this.#parentAuthorities.set(l.parent, m);
    return { ok: true, lease };
  }

  #refuse(limit: keyof BudgetLimits, detail: string): Admission {
    this.refusals.set(limit, (this.refusals.get(limit) ?? 0) + 1);
    return { ok: false, limit, detail };
  }

  /** The verification ended (answered, failed or given up). Unknown or expired leases are ignored. */
  release(lease: string): void {
    const l = this.#leases.get(lease);
    if (!l) return;
    this.#leases.delete(lease);
    decrement(this.#perParent, l.parent);
    if (l.authority === undefined) return;
    decrement(this.#perAuthority, l.authority);
    const m = this.#parentAuthorities.get(l.parent);
    if (m) {
      decrement(m, l.authority);
      if (m.size === 0) this.#parentAuthorities.delete(l.parent);
    }
  }

  #bucket(authority: string, now: number): Bucket {
    const L = this.limits;
    const b = this.#buckets.get(authority) ?? { tokens: L.burstPerAuthority, at: now };
    b.tokens = Math.min(L.burstPerAuthority, b.tokens + ((now - b.at) / 1000) * L.ratePerAuthority);
    b.at = now;
    this.#buckets.set(authority, b);
    return b;
  }

  // Leases are added with a constant lifetime, so insertion order is expiry order.
  #expire(now: number): void {
    for (const [id, l] of this.#leases) {
      if (l.expires > now) break;
      this.release(id);
    }
    // A bucket that has refilled is the same as no bucket: forget it, so memory follows activity.
    if (this.#buckets.size > this.#perAuthority.size + 1024) {
      for (const [a, b] of this.#buckets) {
        if (!this.#perAuthority.has(a) && b.tokens + ((now - b.at) / 1000) * this.limits.ratePerAuthority >= this.limits.burstPerAuthority) this.#buckets.delete(a);
      }
    }
  }
}

function decrement(m: Map<string, number>, key: string): void {
  const n = (m.get(key) ?? 0) - 1;
  if (n <= 0) m.delete(key);
  else m.set(key, n);
}
