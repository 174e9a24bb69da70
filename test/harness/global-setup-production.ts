// vitest globalSetup for the workerd-production project (vitest.workerd-production.config.ts): the
// same harness peer as the workerd project's, on ports of its own, for the edge run with
// EDGE_ENV=production (what only production does, e.g. refusing private outbound targets).

import type { TestProject } from "vitest/node";
import { HARNESS_DOMAIN, HARNESS_SECRET } from "./global-setup.js";
import { harnessPorts, PRODUCTION_PORTS_ENV } from "./ports.js";
import { startHarness } from "./server.js";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const ports = await harnessPorts(PRODUCTION_PORTS_ENV);
  const h = await startHarness(HARNESS_DOMAIN, HARNESS_SECRET, ports);
  project.provide("harnessPorts", ports);
  return () => h.close();
}
