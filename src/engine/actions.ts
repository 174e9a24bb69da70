// Everything the engine asks its shell to do, as one discriminated union. The shell drains them with
// `pollAction()` in order after every input and command (h11/quinn-proto style).

import type { Element } from "ltx";
import type { StanzaErrorCondition, StreamErrorCondition } from "../errors.js";
import type { Domain, StreamId } from "../types.js";
import type { FederationLevel } from "./ports.js";
import type { KeyFormula, KeyInput } from "../dialback/keys.js";
import type { DialbackCondition } from "../dialback/elements.js";

export type { DialbackCondition };

/** What goes on the wire. The shell serialises with src/xml (`streamHeader(attrs)`, `serialize(el)`). */
export type Outgoing =
  | { kind: "header"; attrs: Record<string, string> }
  | { kind: "element"; element: Element }
  | { kind: "close" };

/**
 * Direction of a domain pair relative to us. "inbound": the peer sends stanzas from `remote` to
 * `local` (we are the Receiving Server for it); "outbound": we send from `local` to `remote` (we
 * are the Originating/Initiating Server).
 */
export type PairDirection = "inbound" | "outbound";

export type PairStateName = "pending" | "valid" | "invalid" | "error" | "revoked";

/** Result of a db:verify sent to an Authoritative Server (XEP-0220 §2.1.2 step 3). */
export type VerifyOutcome =
  | { type: "valid" }
  | { type: "invalid" }
  /**
   * The authority answered type='error' (condition as received, usually item-not-found) or the
   * verification could not be done: remote-connection-failed (no connection to the authority),
   * remote-server-not-found (DNS), remote-server-timeout (connection lost / no answer in time).
   */
  | { type: "error"; condition: DialbackCondition };

export type AuditEvent =
  /** XEP-0220 §2.1.2 / §2.2.1: a key the authority said is invalid (someone claims a domain). */
  | "spoofing-attempt"
  /** XEP-0220 §4.1: a typed db:result/db:verify answering no request of ours on this stream. */
  | "unsolicited-dialback"
  /** A dialback request refused by policy (blocked domain, TLS or certificate required). */
  | "policy-refusal"
  /** A stanza for an unverified pair or an unhosted domain (leads to a stream error). */
  | "unauthorized-stanza";

export type Action =
  /** Write to the transport. */
  | { type: "send"; data: Outgoing }
  /** RFC 6120 §5.4.3.3: `<proceed/>` was exchanged; upgrade the transport, then `handleTlsEstablished`. */
  | { type: "start-tls" }
  /**
   * Key work (async WebCrypto) leaves the engine as an action and comes back as an input:
   * "generate" -> `handleKeyGenerated(handle, key)`; "check" -> `handleKeyChecked(handle, valid)`.
   * `drive()` in src/engine/drive.ts does this for shells holding a DialbackKeys.
   */
  | { type: "key"; op: "generate"; handle: number; input: KeyInput }
  /** `formulas`: the XEP-0185 formulas policy accepts (PolicyView limits); absent: the shell's own. */
  | { type: "key"; op: "check"; handle: number; input: KeyInput; key: string; formulas?: readonly KeyFormula[] }
  /**
   * Receiving role, XEP-0220 §2.1.2: ask the Authoritative Server of `to` (the sender domain) to
   * verify `key`: send `<db:verify from=from to=to id=id>key</db:verify>` on a stream to that
   * authority (never this one), then call `handleVerifyResult(handle, outcome)`.
   */
  | { type: "verify"; handle: number; from: Domain; to: Domain; id: StreamId; key: string }
  /** Answer to `requestVerify` on a stream used to reach an Authoritative Server. */
  | { type: "verify-result"; handle: number; from: Domain; to: Domain; id: string; outcome: VerifyOutcome }
  /** A stanza the peer sent on a verified pair, for the local application. */
  | { type: "deliver"; stanza: Element; from: Domain; to: Domain }
  /** An error reply (RFC 6120 §8.3, from/to swapped, same id) for a local sender. */
  | { type: "bounce"; stanza: Element; condition: StanzaErrorCondition }
  /**
   * An error reply (RFC 6120 §8.3) to a stanza the peer sent on a verified pair (e.g. jid-malformed,
   * §8.3.3.8): from a hosted domain to the peer's domain, routed like an application stanza to it
   * (this stream when XEP-0288 bidi allows, else the outbound stream). Never for unverified senders.
   */
  | { type: "reply"; stanza: Element; condition: StanzaErrorCondition }
  /** A domain pair changed state. `condition` for error/invalid; `level` once valid. */
  | {
      type: "pair-state";
      local: Domain;
      remote: Domain;
      direction: PairDirection;
      state: PairStateName;
      condition?: DialbackCondition;
      level?: FederationLevel;
      /** How a valid inbound pair was authenticated when not by dialback (RFC 6120 §6, XEP-0178). */
      via?: "sasl-external";
    }
  /** Something the operator should see (audit log). */
  | { type: "audit"; event: AuditEvent; local?: Domain; remote?: Domain; detail: string }
  /**
   * The stream is over: close the transport. `error` is the stream error we sent (or received, with
   * by='peer'). Always the last action of a stream.
   */
  | { type: "closed"; by: "us" | "peer" | "transport"; error?: StreamErrorCondition };
