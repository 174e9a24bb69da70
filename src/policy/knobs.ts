// The knobs a stream applies, with the policy document's values winning over the deployment's
// environment defaults (MAX_PENDING_DIALBACK, MAX_STANZA_BYTES, DIALBACK_KEY_FORMULAS).

import type { Knobs, PolicyDocument } from "./document.js";
import type { KeyFormula } from "../dialback/keys.js";

export interface EffectiveKnobs {
  onPairFailure: Knobs["onPairFailure"];
  bidi: boolean;
  maxPairsPerStream: number;
  maxPendingPerStream: number;
  maxStanzaBytes: number;
  keyFormulas: KeyFormula[];
}

export interface KnobDefaults {
  maxPendingPerStream: number;
  maxStanzaBytes: number;
  keyFormulas: readonly KeyFormula[];
}

export function effectiveKnobs(doc: PolicyDocument, defaults: KnobDefaults): EffectiveKnobs {
  const k = doc.knobs;
  return {
    onPairFailure: k.onPairFailure,
    bidi: k.bidi,
    maxPairsPerStream: k.maxPairsPerStream,
    maxPendingPerStream: k.maxPendingPerStream ?? defaults.maxPendingPerStream,
    maxStanzaBytes: k.maxStanzaBytes ?? defaults.maxStanzaBytes,
    keyFormulas: [...(k.keyFormulas ?? defaults.keyFormulas)],
  };
}
