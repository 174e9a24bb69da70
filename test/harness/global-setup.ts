// vitest globalSetup for the workerd project: starts the harness peer "peer.test" on the loopback
// ports the config chose (test/harness/ports.ts; the config routes peer.test there with
// S2S_STATIC_ROUTES) and hands them to tests via provide/inject.

import type { TestProject } from "vitest/node";
import { harnessPorts } from "./ports.js";
import { startHarness, type HarnessPorts } from "./server.js";

export const HARNESS_DOMAIN = "peer.test";
export const HARNESS_SECRET = "harness-secret-not-the-edges-0001";

declare module "vitest" {
  export interface ProvidedContext {
    harnessPorts: HarnessPorts & { closed: number };
    /** PROPS_RUNS / PROPS_SEED from the host's environment (issue 15), for property tests in workerd. */
    props: { runs?: number; seed?: number };
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const ports = await harnessPorts();
  const h = await startHarness(HARNESS_DOMAIN, HARNESS_SECRET, ports);
  project.provide("harnessPorts", ports);
  const num = (v: string | undefined) => (v && /^\d+$/.test(v) ? Number(v) : undefined);
  project.provide("props", { runs: num(process.env.PROPS_RUNS), seed: num(process.env.PROPS_SEED) });
  return () => h.close();
}
