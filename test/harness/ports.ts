// Free loopback ports for the harness, chosen when the workerd vitest config loads, so concurrent
// test runs on one machine never collide. The config puts them into the edge's bindings
// (S2S_STATIC_ROUTES, DOH_URL) and hands them to globalSetup through the environment.

import { createServer } from "node:net";
import type { HarnessPorts } from "./server.js";

export const PORTS_ENV = "DIALBACK_HARNESS_PORTS";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** s2s, uplink, control, and `closed`: a port nothing listens on (for connection-failure tests). */
export async function harnessPorts(): Promise<HarnessPorts & { closed: number }> {
  const existing = process.env[PORTS_ENV];
  if (existing) return JSON.parse(existing);
  const [s2s, uplink, control, closed] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const ports = { s2s: s2s!, uplink: uplink!, control: control!, closed: closed! };
  process.env[PORTS_ENV] = JSON.stringify(ports);
  return ports;
}
