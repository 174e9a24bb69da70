// The engine's PolicyView (src/engine/ports.ts) over a policy document: what a StreamSession hands its
// S2SStream after reading the ControlPlane's policy. Synchronous and cheap, as the port requires:
// rule lookup is O(labels) and the rest is precomputed.
//
// Mapping to the engine's vocabulary:
//   deny rule / not on the allowlist -> { allowed: false, condition: "forbidden" }  (XEP-0220 §2.4)
//   level                            -> minLevel; the engine itself refuses a pair whose stream does
//                                       not reach it (policy-violation without TLS, not-authorized
//                                       when "trusted" lacks a valid certificate).
//   permissive                       -> minLevel "verified": the engine always runs dialback, so
//                                       permissive can only ever mean "verified" on this edge.
//   onPairFailure, bidi              -> knobs, per remote.
//   maxPairsPerStream, maxPendingPerStream, maxStanzaBytes, keyFormulas -> limits(): the document's
//                                       knob when set, else the deployment default from `opts.limits`
//                                       (maxStanzaBytes and keyFormulas stay undefined when neither
//                                       gives one: the shell then keeps its own configuration).

import {
  DEFAULT_ENGINE_LIMITS,
  type EngineLimits,
  type FederationLevel,
  type PolicyView,
  type RemotePolicy,
} from "../engine/ports.js";
import type { Domain } from "../types.js";
import type { Level, PolicyDocument } from "./document.js";
import { evaluatePair, tlsRequired } from "./evaluate.js";

export interface PolicyViewOptions {
  hosted: readonly string[];
  /**
   * Deployment defaults (MAX_PENDING_DIALBACK, MAX_STANZA_BYTES, DIALBACK_KEY_FORMULAS); the
   * document's knobs win.
   */
  limits?: Partial<EngineLimits>;
}

const toEngineLevel = (l: Level): FederationLevel => (l === "permissive" ? "verified" : l);

export class DocumentPolicyView implements PolicyView {
  readonly #doc: PolicyDocument;
  readonly #hosted: ReadonlySet<string>;
  readonly #limits: EngineLimits;
  readonly #unknownPeer: RemotePolicy;

  constructor(doc: PolicyDocument, opts: PolicyViewOptions) {
    this.#doc = doc;
    this.#hosted = new Set(opts.hosted);
    this.#limits = documentLimits(doc, opts.limits);
    // Before the peer names itself: require TLS only if no domain could be accepted without it.
    this.#unknownPeer = {
      allowed: true,
      minLevel: tlsRequired(doc) ? "encrypted" : "verified",
      bidi: doc.knobs.bidi,
      onPairFailure: doc.knobs.onPairFailure,
    };
  }

  isHosted(domain: Domain): boolean {
    return this.#hosted.has(domain);
  }

  forRemote(remote: Domain | undefined): RemotePolicy {
    if (remote === undefined) return this.#unknownPeer;
    // Evaluate as if the transport satisfied every level: what remains is allow/deny; the level goes
    // to the engine as minLevel, which it checks against the real transport.
    const d = evaluatePair(this.#doc, { local: "", remote, direction: "inbound", transport: { encrypted: true, authenticated: true } });
    if (!d.allowed) return { allowed: false, condition: d.condition, reason: d.text };
    return { allowed: true, minLevel: toEngineLevel(d.level), bidi: this.#doc.knobs.bidi, onPairFailure: this.#doc.knobs.onPairFailure };
  }

  limits(): EngineLimits {
    return this.#limits;
  }

  /** XEP-0238 type 1: the knob xmppVersion "0.9" (pre-1.0 stream headers, no TLS). */
  get legacy(): boolean {
    return this.#doc.knobs.xmppVersion === "0.9";
  }
}

/** The engine limits a document sets, over the deployment defaults. */
export function documentLimits(doc: PolicyDocument, defaults: Partial<EngineLimits> = {}): EngineLimits {
  const k = doc.knobs;
  const base: EngineLimits = { ...DEFAULT_ENGINE_LIMITS, ...defaults };
  const maxStanzaBytes = k.maxStanzaBytes ?? base.maxStanzaBytes;
  const keyFormulas = k.keyFormulas ?? base.keyFormulas;
  return {
    ...base,
    maxPairsPerStream: k.maxPairsPerStream,
    maxPendingPerStream: k.maxPendingPerStream ?? base.maxPendingPerStream,
    ...(maxStanzaBytes !== undefined ? { maxStanzaBytes } : {}),
    ...(keyFormulas !== undefined ? { keyFormulas: [...keyFormulas] } : {}),
  };
}
