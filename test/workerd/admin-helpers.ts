import { expect } from "vitest";
// Shared by the admin*.test.ts files: authenticated requests against SELF and the ControlPlane stub.

import { env, SELF } from "cloudflare:test";
import type { ControlPlane } from "../../durable-objects/control-plane.js";

export const TOKEN = "test-admin-token-0123456789";
export const BASE = "https://edge.test/admin/v1";

export function admin(path: string, init: RequestInit & { json?: unknown } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (!headers.has("authorization")) headers.set("authorization", `Bearer ${TOKEN}`);
  let body = init.body;
  if (init.json !== undefined) {
    body = JSON.stringify(init.json);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
  }
  return SELF.fetch(`${BASE}${path}`, { ...init, headers, body });
}

export async function problemOf(res: Response): Promise<{ title: string; status: number; detail?: string }> {
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  const p = await res.json<{ title: string; status: number; detail?: string }>();
  expect(p.status).toBe(res.status);
  return p;
}

export function controlPlane(): DurableObjectStub<ControlPlane> {
  const ns = env.CONTROL_PLANE as unknown as DurableObjectNamespace<ControlPlane>;
  return ns.get(ns.idFromName("control"));
}
