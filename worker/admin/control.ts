// The one place the admin API reaches the ControlPlane singleton, and turns its failures into problems.

import type { Env } from "../../durable-objects/env.js";
import type { ControlPlane, Failure } from "../../durable-objects/control-plane.js";
import { CONTROL_PLANE_NAME } from "../../durable-objects/lib/session-rpc.js";
import { ProblemError } from "../problem.js";

export function controlPlane(env: Env): DurableObjectStub<ControlPlane> {
  const ns = env.CONTROL_PLANE as unknown as DurableObjectNamespace<ControlPlane>;
  return ns.get(ns.idFromName(CONTROL_PLANE_NAME));
}

/** Unwraps a ControlPlane result, throwing its failure as problem+json. */
export function orThrow<T>(r: T | Failure): Exclude<T, Failure> {
  if (r && typeof r === "object" && "ok" in r && r.ok === false) {
    const f = r as Failure;
    throw new ProblemError(f.status, f.title, f.detail);
  }
  return r as Exclude<T, Failure>;
}
