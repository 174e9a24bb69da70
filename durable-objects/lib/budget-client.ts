// How a Durable Object asks the edge-wide verification budget (durable-objects/verify-budget.ts) for
// leases. A DO with many streams (a gateway link's channels, one client address's WebSockets) asks
// for many at once when a multi-vhost server connects all its domains together: its admissions and
// releases (and, for senders not located yet, both admission steps) go as batches
// (lib/coalesced-call.ts), one RPC per round trip instead of one per pair.
// Admission stays in arrival order and each is judged alone; a release is fire-and-forget as before.

import type { Env } from "../env.js";
import type { Admission } from "../../src/budget/verification-budget.js";
import { CoalescedCall } from "./coalesced-call.js";
import { verifyBudgetStub } from "./stubs.js";

/** The budget calls of the verification path (lib/verify-path.ts). */
export interface Budget {
  /** A lease for a sender whose authority address is known (both limits at once). */
  admit(parent: string, authority: string): Promise<Admission>;
  /** Step 1, before the authority is located. */
  admitParent(parent: string): Promise<Admission>;
  /** Step 2, once the authority's address is known; a refusal gives the lease back. */
  bind(lease: string, authority: string): Promise<Admission>;
  release(lease: string): Promise<unknown>;
}

/** One RPC per call: for callers that ask rarely (a RemoteDomain's bidi verification). */
export function directBudget(env: Env): Budget {
  return {
    admit: (parent, authority) => verifyBudgetStub(env).admit(parent, authority),
    admitParent: (parent) => verifyBudgetStub(env).admitParent(parent),
    bind: (lease, authority) => verifyBudgetStub(env).bind(lease, authority),
    release: (lease) => verifyBudgetStub(env).release(lease),
  };
}

/** Batched admissions and releases, for one DO (a stub is used only by the DO that made it). */
export function batchedBudget(env: Env): Budget {
  const admits = new CoalescedCall((items: { parent: string; authority: string }[]) => verifyBudgetStub(env).admitMany(items));
  const parents = new CoalescedCall((items: string[]) => verifyBudgetStub(env).admitParentMany(items));
  const binds = new CoalescedCall((items: { lease: string; authority: string }[]) => verifyBudgetStub(env).bindMany(items));
  const releases = new CoalescedCall((leases: string[]) => verifyBudgetStub(env).releaseMany(leases));
  return {
    admit: (parent, authority) => admits.call({ parent, authority }),
    admitParent: (parent) => parents.call(parent),
    bind: (lease, authority) => binds.call({ lease, authority }),
    release: (lease) => releases.call(lease),
  };
}
