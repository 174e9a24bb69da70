// Singleton (named "budget"): the edge-wide budget for outbound verification work
// (src/budget/verification-budget.ts, issue 10 defect 4). Every verification a stream asks for takes a
// lease here before any connection to the authority is made, and gives it back when it ends. Counts
// live in memory only: after an eviction the budget starts empty (leases held by the old instance are
// forgotten, which can only admit more for a few minutes, never block), and no storage is written
// per verification.

import { DurableObject } from "cloudflare:workers";
import type { Env } from "./env.js";
import { edgeConfig } from "./lib/config.js";
import { log } from "./lib/log.js";
import { VerificationBudget, type Admission } from "../src/budget/verification-budget.js";

/** Refusals are logged at most this often per limit (the dialback_outcomes metric counts each). */
const LOG_EVERY_MS = 60_000;

export class VerifyBudget extends DurableObject<Env> {
  #budget: VerificationBudget | undefined;
  readonly #logTimes = new Map<string, number>();

  async #get(): Promise<VerificationBudget> {
    this.#budget ??= new VerificationBudget((await edgeConfig(this.env)).verifyBudget);
    return this.#budget;
  }

  async admit(parent: string, authority: string): Promise<Admission> {
    return this.#logged((await this.#get()).admit({ parent, authority }, Date.now()));
  }

  /**
   * admit() for several verifications in one call (lib/budget-client.ts: the claims of a DO's many
   * streams that arrive together), in order, each judged as if asked alone.
   */
  async admitMany(items: readonly { parent: string; authority: string }[]): Promise<Admission[]> {
    const b = await this.#get();
    const now = Date.now();
    return items.map(({ parent, authority }) => this.#logged(b.admit({ parent, authority }, now)));
  }

  /** admitParent() for several verifications in one call (lib/budget-client.ts), in order. */
  async admitParentMany(parents: readonly string[]): Promise<Admission[]> {
    const b = await this.#get();
    const now = Date.now();
    return parents.map((parent) => this.#logged(b.admitParent(parent, now)));
  }

  /** bind() for several leases in one call (lib/budget-client.ts), in order. */
  async bindMany(items: readonly { lease: string; authority: string }[]): Promise<Admission[]> {
    const b = await this.#get();
    const now = Date.now();
    return items.map(({ lease, authority }) => this.#logged(b.bind(lease, authority, now)));
  }

  /** Step 1, before the authority is located (no DNS for a refused claim). */
  async admitParent(parent: string): Promise<Admission> {
    return this.#logged((await this.#get()).admitParent(parent, Date.now()));
  }

  /** Step 2, once the authority's address is known; a refusal gives the lease back. */
  async bind(lease: string, authority: string): Promise<Admission> {
    return this.#logged((await this.#get()).bind(lease, authority, Date.now()));
  }

  #logged(a: Admission): Admission {
    const now = Date.now();
    if (!a.ok && now - (this.#logTimes.get(a.limit) ?? 0) >= LOG_EVERY_MS) {
      this.#logTimes.set(a.limit, now);
      log(this.env, "warn", "verification.refused", { condition: "resource-constraint", limit: a.limit, detail: a.detail, refusals: this.#budget?.refusals.get(a.limit) });
    }
    return a;
  }

  async release(lease: string): Promise<void> {
    (await this.#get()).release(lease);
  }

  /** release() for several leases in one call (lib/budget-client.ts). */
  async releaseMany(leases: readonly string[]): Promise<null[]> {
    const b = await this.#get();
    for (const lease of leases) b.release(lease);
    return leases.map(() => null);
  }

  /** Verifications and authority addresses in flight, and verifications bound so far (diagnostics, tests). */
  async usage(): Promise<{ pending: number; authorities: number; bound: number }> {
    const b = await this.#get();
    return { pending: b.pending, authorities: b.authorities, bound: b.bound };
  }
}
