// The PolicyView a session hands the engine: the ControlPlane's policy document seen through
// src/policy's DocumentPolicyView. An inbound stream subscribes once (subscribe(): read + the
// ControlPlane pushes every later change through apply() before the change is answered), so a policy
// change applies to new pairs at once with no ControlPlane round trip per db:result (issue 11.6); an
// outbound stream refreshes before anything that creates a new domain pair (an outbound stanza for a
// pair not yet valid). Existing pairs are revoked by the ControlPlane itself.
// When the ControlPlane cannot be reached, the deployment default applies: every remote allowed at
// "verified" (Server Dialback), bidi on, keep-stream on pair failure (seed 001).

import type { EdgeConfig } from "../../src/config.js";
import { DEFAULT_ENGINE_LIMITS, type EngineLimits, type PolicyView, type RemotePolicy } from "../../src/engine/index.js";
import { DocumentPolicyView } from "../../src/policy/view.js";
import type { Domain } from "../../src/types.js";
import type { Env } from "../env.js";
import { log } from "./log.js";
import { CONTROL_PLANE_NAME, type ControlPlaneRpc, type PolicySnapshot } from "./session-rpc.js";

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
  #view: PolicyView & { legacy?: boolean };
  #version = -1;

  constructor(
    private readonly env: Env,
    private readonly config: EdgeConfig,
  ) {
    this.#view = configPolicy(config);
  }

  /** Reads the ControlPlane's current policy (cheap RPC); keeps the last one if it fails. */
  async refresh(): Promise<void> {
    await this.#read((cp) => cp.getPolicy());
  }

  /**
   * Reads the current policy and asks the ControlPlane to push every later change to session
   * `sessionId` (its policyChanged RPC calls apply()). Keeps the last policy if it fails.
   */
  async subscribe(sessionId: string): Promise<void> {
    await this.#read((cp) => cp.subscribePolicy(sessionId));
  }

  async #read(call: (cp: ControlPlaneRpc) => Promise<PolicySnapshot>): Promise<void> {
    try {
      const ns = this.env.CONTROL_PLANE;
      this.apply(await call(ns.get(ns.idFromName(CONTROL_PLANE_NAME)) as unknown as ControlPlaneRpc));
    } catch (err) {
      log(this.env, "warn", "policy.read-failed", { error: err, outcome: "keeping the previous policy" });
    }
  }

  /** A policy from the ControlPlane; an older one than in force (a push overtaken by a read) is ignored. */
  apply(snap: PolicySnapshot): void {
    if (snap.version <= this.#version) return;
    this.#view = new DocumentPolicyView(snap.document, {
      hosted: this.config.domains,
      limits: deploymentLimits(this.config),
    });
    this.#version = snap.version;
  }

  /** The version in force (-1: the deployment default, nothing read yet). */
  get version(): number {
    return this.#version;
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
  /**
   * The knob xmppVersion "0.9": streams are pre-XMPP-1.0 (XEP-0238 type 1: no version, no
   * features, no TLS). Read when a stream starts; a stream keeps what it started with.
   */
  get legacy(): boolean {
    return this.#view.legacy === true;
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
