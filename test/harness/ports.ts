// Free loopback ports for the harness, chosen when the workerd vitest config loads, so concurrent
// test runs on one machine never collide. The config puts them into the edge's bindings
// (S2S_STATIC_ROUTES, DOH_URL) and hands them to globalSetup through the environment.

// Drawn below the kernel's ephemeral range (see scripts/interop/lib/ports.mjs): the ports are chosen
// when the config loads and bound later, and workerd binds ephemeral ports in between.
import { freePort } from "../../scripts/interop/lib/ports.mjs";
import type { HarnessPorts } from "./server.js";

export const PORTS_ENV = "DIALBACK_HARNESS_PORTS";
export const PRODUCTION_PORTS_ENV = "DIALBACK_HARNESS_PORTS_PRODUCTION";

/**
 * s2s, uplink, control, and `closed`: a port nothing listens on (for connection-failure tests).
 * `envName` keeps the production-mode project's harness (vitest.workerd-production.config.ts) apart.
 */
export async function harnessPorts(envName = PORTS_ENV): Promise<HarnessPorts & { closed: number }> {
  const existing = process.env[envName];
  if (existing) return JSON.parse(existing);
  const [s2s, uplink, control, closed] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const ports = { s2s: s2s!, uplink: uplink!, control: control!, closed: closed! };
  process.env[envName] = JSON.stringify(ports);
  return ports;
}
