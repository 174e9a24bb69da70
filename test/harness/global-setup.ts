// vitest globalSetup for the workerd project: starts the harness peer "peer.test" on fixed loopback
// ports (the workerd config routes peer.test there with S2S_STATIC_ROUTES) and hands the ports to
// tests via provide/inject.

import type { TestProject } from "vitest/node";
import { startHarness, type HarnessPorts } from "./server.js";

export const HARNESS_DOMAIN = "peer.test";
export const HARNESS_SECRET = "harness-secret-not-the-edges-0001";
export const HARNESS_PORTS: HarnessPorts = { s2s: 25269, uplink: 25270, control: 25271 };

declare module "vitest" {
  export interface ProvidedContext {
    harnessPorts: HarnessPorts;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const h = await startHarness(HARNESS_DOMAIN, HARNESS_SECRET, HARNESS_PORTS);
  project.provide("harnessPorts", HARNESS_PORTS);
  return () => h.close();
}
