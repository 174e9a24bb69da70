// The PolicyView a session hands the engine: the ControlPlane's policy document seen through
// src/policy's DocumentPolicyView, behind a wrapper the session refreshes before anything that
// creates a new domain pair (an inbound db:result, an outbound stanza for a pair not yet valid), so a
// policy change applies to new pairs at once; existing pairs are revoked by the ControlPlane itself.
// When the ControlPlane cannot be reached, the deployment default applies: every remote allowed at
// "verified" (Server Dialback), bidi on, keep-stream on pair failure (seed 001).

import type { EdgeConfig } from "../../src/config.js";
import { DEFAULT_ENGINE_LIMITS, type EngineLimits, type PolicyView, type RemotePolicy } from "../../src/engine/index.js";
import { DocumentPolicyView } from "../../src/policy/view.js";
import type { Domain } from "../../src/types.js";
import type { Env } from "../../worker/env.js";
import { log } from "./log.js";
import { CONTROL_PLANE_NAME, type ControlPlaneRpc } from "./session-rpc.js";

const DEFAULT_REMOTE: RemotePolicy = { allowed: true, minLevel: "verified", bidi: true, onPairFailure: "keep-stream" };

/** The engine limits the deployment's variables set (MAX_PENDING_DIALBACK, MAX_FAILED_PAIRS). */
function deploymentLimits(config: EdgeConfig): Partial<EngineLimits> {
  return { maxPendingPerStream: config.limits.maxPendingPerStream, maxFailedPairsPerStream: config.limits.maxFailedPairs };
}

export function configPolicy(config: EdgeConfig): PolicyView {
  const hosted = new Set<string>(config.domains);
  const limits = { ...DEFAULT_ENGINE_LIMITS, ...deploymentLimits(config) };
  return {
    isHosted: (d: Domain) => hosted.has(d),
    forRemote: () => DEFAULT_REMOTE,
    limits: () => limits,
  };
}

export class LivePolicy implements PolicyView {
  #view: PolicyView;
  #version = -1;

  constructor(
    private readonly env: Env,
    private readonly config: EdgeConfig,
  ) {
    this.#view = configPolicy(config);
  }

  /** Reads the ControlPlane's current policy (cheap RPC); keeps the last one if it fails. */
  async refresh(): Promise<void> {
    try {
      const ns = this.env.CONTROL_PLANE;
      const cp = ns.get(ns.idFromName(CONTROL_PLANE_NAME)) as unknown as ControlPlaneRpc;
      const snap = await cp.getPolicy();
      if (snap.version === this.#version) return;
      this.#view = new DocumentPolicyView(snap.document, {
        hosted: this.config.domains,
        limits: deploymentLimits(this.config),
      });
      this.#version = snap.version;
    } catch (err) {
      log(this.env, "warn", "policy.refresh-failed", { error: err, outcome: "keeping the previous policy" });
    }
  }

  isHosted(domain: Domain): boolean {
    return this.#view.isHosted(domain);
  }
  forRemote(remote: Domain | undefined): RemotePolicy {
    return this.#view.forRemote(remote);
  }
  limits(): EngineLimits {
    return this.#view.limits();
  }
}

/**
 * The stream reader's limits: the policy's maxStanzaBytes knob when set, else the deployment's; the
 * deployment's MAX_ELEMENT_DEPTH, MAX_ATTRIBUTES and MAX_NAMESPACE_DECLARATIONS.
 */
export function readerLimits(config: EdgeConfig, policy: PolicyView): EdgeConfig["limits"] {
  const max = policy.limits().maxStanzaBytes;
  return max === undefined ? config.limits : { ...config.limits, maxStanzaBytes: max };
}
