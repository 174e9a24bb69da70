// The receiving role's verification (XEP-0220 §2.1.2 steps 2-3), as a stream's shell asks for it:
// locate the sender domain's Authoritative Server, take a lease from the edge-wide budget
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
  const config = await edgeConfig(env);
  const where = await locateAuthority(env, config, req.to);
  if (!where.ok) return { type: "error", condition: where.condition };
  const budget = verifyBudgetStub(env);
  const admission = await budget.admit(registrableParent(req.to), where.key);
  if (!admission.ok) return { type: "error", condition: "resource-constraint" };
  try {
    return await authorityLinkStub(env, where.key).verify(req, where.key, where.targets);
  } finally {
    waitUntil(budget.release(admission.lease).catch(() => {}));
  }
}
