// The receiving role's verification (XEP-0220 §2.1.2 steps 2-3), as a stream's shell asks for it:
// take a lease from the edge-wide budget for the sender's registrable parent, locate the sender
// domain's Authoritative Server, bind the lease to its address
// (durable-objects/verify-budget.ts; over budget -> the dialback error resource-constraint, issue 10
// defect 4), then ask the authority over the link pooled per authority address
// (durable-objects/authority-link.ts, issue 11), and give the lease back.

import type { VerifyOutcome } from "../../src/engine/index.js";
import { registrableParent } from "../../src/budget/parent-domain.js";
import type { Domain } from "../../src/types.js";
import type { Env } from "../env.js";
import { edgeConfig } from "./config.js";
import { locateAuthority } from "./authority.js";
import { authorityLinkStub, verifyBudgetStub } from "./stubs.js";

export interface VerifyRequest {
  from: Domain;
  to: Domain;
  id: string;
  key: string;
}

export async function verifyWithAuthority(env: Env, req: VerifyRequest, waitUntil: (p: Promise<unknown>) => void): Promise<VerifyOutcome> {
  // The limits that need only the sender's registrable parent come first, so a claim over budget
  // costs no DNS lookup (issue 10 item 4: 2 x 1,000 claims for *.evil.test each cost a DoH query).
  const budget = verifyBudgetStub(env);
  const admission = await budget.admitParent(registrableParent(req.to));
  if (!admission.ok) return { type: "error", condition: "resource-constraint" };
  try {
    const config = await edgeConfig(env);
    const where = await locateAuthority(env, config, req.to);
    if (!where.ok) return { type: "error", condition: where.condition };
    const bound = await budget.bind(admission.lease, where.key);
    if (!bound.ok) return { type: "error", condition: "resource-constraint" };
    return await authorityLinkStub(env, where.key).verify(req, where.key, where.targets);
  } finally {
    waitUntil(budget.release(admission.lease).catch(() => {}));
  }
}
