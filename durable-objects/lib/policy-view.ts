// The PolicyView a session hands the engine. Until the ControlPlane's policy is wired in, every
// remote is allowed at the "verified" level (Server Dialback, XEP-0238), with bidi and the
// keep-stream failure mode (seed 001).

import type { EdgeConfig } from "../../src/config.js";
import { DEFAULT_ENGINE_LIMITS, type PolicyView, type RemotePolicy } from "../../src/engine/index.js";
import type { Domain } from "../../src/types.js";

const DEFAULT_REMOTE: RemotePolicy = { allowed: true, minLevel: "verified", bidi: true, onPairFailure: "keep-stream" };

export function configPolicy(config: EdgeConfig): PolicyView {
  const hosted = new Set<string>(config.domains);
  const limits = { ...DEFAULT_ENGINE_LIMITS, maxPendingPerStream: config.limits.maxPendingPerStream };
  return {
    isHosted: (d: Domain) => hosted.has(d),
    forRemote: () => DEFAULT_REMOTE,
    limits: () => limits,
  };
}
