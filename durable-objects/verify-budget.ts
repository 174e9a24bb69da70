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
  readonly #logged = new Map<string, number>();

  async #get(): Promise<VerificationBudget> {
    this.#budget ??= new VerificationBudget((await edgeConfig(this.env)).verifyBudget);
    return this.#budget;
  }

  async admit(parent: string, authority: string): Promise<Admission> {
    const budget = await this.#get();
    const now = Date.now();
    const a = budget.admit({ parent, authority }, now);
    if (!a.ok && now - (this.#logged.get(a.limit) ?? 0) >= LOG_EVERY_MS) {
      this.#logged.set(a.limit, now);
      log(this.env, "warn", "verification.refused", { condition: "resource-constraint", limit: a.limit, detail: a.detail, refusals: budget.refusals.get(a.limit) });
    }
    return a;
  }

  async release(lease: string): Promise<void> {
    (await this.#get()).release(lease);
  }

  /** Verifications and authority addresses in flight (diagnostics and tests). */
  async usage(): Promise<{ pending: number; authorities: number }> {
    const b = await this.#get();
    return { pending: b.pending, authorities: b.authorities };
  }
}
