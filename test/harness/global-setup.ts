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
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const ports = await harnessPorts();
  const h = await startHarness(HARNESS_DOMAIN, HARNESS_SECRET, ports);
  project.provide("harnessPorts", ports);
  return () => h.close();
}
