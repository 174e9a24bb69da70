// The state of one S2S stream as plain data (quinn-proto style: one struct, many small modules that
// operate on it), plus the output helpers every module uses. S2SStream (./s2s-stream.ts) owns one
// of these; negotiation.ts, receiving.ts, originating.ts, verification.ts and ending.ts act on it.

import type { Element } from "ltx";
import { bounce, StanzaError, type StanzaErrorCondition } from "../errors.js";
import type { Domain, StreamId } from "../types.js";
import type { Action, AuditEvent, PairDirection, PairStateName } from "../engine/actions.js";
import { certificateValidFor, type FederationLevel, type PeerCertificate, type PolicyView, type TransportInfo } from "../engine/ports.js";
import type { DialbackCondition } from "../dialback/elements.js";
import { DeadlineQueue, InboundPairs, OutboundPairs, type OutstandingVerify } from "../dialback/pairs.js";
import type { StreamFacts } from "../engine/snapshot.js";
import type { StreamRole } from "./phase.js";

export interface StreamTimeouts {
  /** RFC 6120 §4.6: the stream must be open (headers, features, TLS) within this many ms. */
  negotiation: number;
  /** XEP-0220: a dialback request (either direction) must be answered within this many ms. */
  dialback: number;
  /** A db:verify sent to an Authoritative Server must be answered within this many ms. */
  verify: number;
  /**
   * A receiving stream whose every pair claim was refused and that holds no pair is closed after
   * this many ms (./unpaired.ts, issue 10 item 3).
   */
  unpaired: number;
}

export const DEFAULT_TIMEOUTS: StreamTimeouts = { negotiation: 60_000, dialback: 90_000, verify: 60_000, unpaired: 10_000 };

/** A key check in flight for a db:verify we answer (authoritative role). */
export interface KeyCheck {
  from: Domain;
  to: Domain;
  id: string;
  key: string;
}

/** The state of one stream: its negotiated facts (shared with snapshots) plus the tables below. */
export interface Ctx extends StreamFacts<StreamId, Domain> {
  // Fixed at construction.
  readonly role: StreamRole;
  readonly policy: PolicyView;
  readonly transport: TransportInfo;
  readonly timeouts: StreamTimeouts;
  readonly mintId: () => StreamId;
  readonly legacy: boolean;
  readonly preferTls: boolean;

  // Domain pairs (XEP-0220 §3): O(1) lookups by pair key.
  readonly inbound: InboundPairs;
  readonly inByHandle: Map<number, string>;
  readonly outbound: OutboundPairs;
  readonly keyOps: Map<number, string>;
  /** Dialback requests, both directions, awaiting an answer (capped by policy). */
  pending: number;

  // db:verify towards authorities, and key checks for db:verify we answer.
  readonly verifies: Map<string, OutstandingVerify[]>;
  readonly verifyByHandle: Map<number, OutstandingVerify>;
  readonly checks: Map<number, KeyCheck>;

  readonly inDeadlines: DeadlineQueue<number>;
  readonly outDeadlines: DeadlineQueue<string>;
  readonly verifyDeadlines: DeadlineQueue<number>;

  readonly out: ActionQueue;
  /** State changes that emit no action (a stanza queued, a db:verify queued): see `revision`. */
  quietChanges: number;
}

export function newCtx(fixed: Pick<Ctx, "role" | "policy" | "transport" | "timeouts" | "mintId" | "legacy" | "preferTls">): Ctx {
  return {
    ...fixed,
    phase: fixed.role === "initiating" ? { name: "idle" } : { name: "awaiting-header" },
    streamId: undefined,
    local: undefined,
    remote: undefined,
    peerVersion1: false,
    peerHeaderSeen: false,
    headerSent: false,
    secure: fixed.transport.secure,
    peerCertificate: fixed.transport.peerCertificate,
    offeredTls: false,
    offeredBidi: false,
    sasl: "none",
    saslFailures: 0,
    localNames: fixed.transport.localNames,
    peerDialbackErrors: false,
    bidi: false,
    scope: {},
    nextHandle: 1,
    negotiationDeadline: undefined,
    failedPairs: 0,
    refusedClaims: 0,
    unpairedDeadline: undefined,
    inbound: new InboundPairs(),
    inByHandle: new Map(),
    outbound: new OutboundPairs(),
    keyOps: new Map(),
    pending: 0,
    verifies: new Map(),
    verifyByHandle: new Map(),
    checks: new Map(),
    inDeadlines: new DeadlineQueue(),
    outDeadlines: new DeadlineQueue(),
    verifyDeadlines: new DeadlineQueue(),
    out: new ActionQueue(),
    quietChanges: 0,
  };
}

const STANZA_NAMES = new Set(["message", "presence", "iq"]);

/**
 * Whether an action goes with a change of stream state. Delivering a stanza or sending one on a
 * verified pair changes nothing; everything else (dialback, pair states, closing) does.
 */
function stateful(a: Action): boolean {
  if (a.type === "deliver" || a.type === "reply") return false;
  if (a.type === "send" && a.data.kind === "element") return !STANZA_NAMES.has(a.data.element.name);
  return true;
}

/** FIFO of actions with O(1) polling (an index, not Array.shift). */
export class ActionQueue {
  #items: Action[] = [];
  #head = 0;
  /** Number of state-changing actions ever pushed (feeds S2SStream.revision). */
  stateful = 0;

  push(a: Action): void {
    if (stateful(a)) this.stateful++;
    this.#items.push(a);
  }

  poll(): Action | undefined {
    if (this.#head >= this.#items.length) {
      if (this.#head > 0) {
        this.#items = [];
        this.#head = 0;
      }
      return undefined;
    }
    return this.#items[this.#head++];
  }

  drain(): Action[] {
    const out = this.#items.slice(this.#head);
    this.#items = [];
    this.#head = 0;
    return out;
  }
}

// ------------------------------------------------------------------ output helpers

export const emit = (c: Ctx, a: Action): void => c.out.push(a);

export const send = (c: Ctx, element: Element): void => emit(c, { type: "send", data: { kind: "element", element } });

export const sendClose = (c: Ctx): void => emit(c, { type: "send", data: { kind: "close" } });

export function audit(c: Ctx, event: AuditEvent, detail: string, local?: Domain, remote?: Domain): void {
  emit(c, { type: "audit", event, detail, ...(local ? { local } : {}), ...(remote ? { remote } : {}) });
}

export function pairState(
  c: Ctx,
  direction: PairDirection,
  local: Domain,
  remote: Domain,
  state: PairStateName,
  extra: { condition?: DialbackCondition; level?: FederationLevel; via?: "sasl-external" } = {},
): void {
  if (direction === "inbound" && (state === "error" || state === "invalid")) c.refusedClaims++;
  emit(c, { type: "pair-state", local, remote, direction, state, ...extra });
}

/** RFC 6120 §8.3.1 error replies for the local senders of `queue`. */
export function bounceAll(c: Ctx, queue: Element[], condition: StanzaErrorCondition): void {
  const err = new StanzaError(condition);
  for (const stanza of queue) {
    const reply = bounce(stanza, err);
    if (reply) emit(c, { type: "bounce", stanza: reply, condition });
  }
}

/** XEP-0238 level this stream gives for `remote`: TLS, and a CA-valid certificate naming it. */
export function levelFor(c: Ctx, remote: Domain): FederationLevel {
  if (!c.secure) return "verified";
  return certificateValidFor(c.peerCertificate, remote) ? "trusted" : "encrypted";
}

export const nextHandle = (c: Ctx): number => c.nextHandle++;

/**
 * Domain pairs this stream carries, pending or verified, both directions (XEP-0220 §3): what
 * `maxPairsPerStream` caps. Failed pairs are not carried (inbound ones are removed, outbound ones
 * kept only for their bounce condition).
 */
export const pairCount = (c: Ctx): number => c.inbound.size + c.outbound.live;

/** True when one more pair would exceed the policy's cap on pairs per stream. */
export const pairsFull = (c: Ctx): boolean => pairCount(c) >= c.policy.limits().maxPairsPerStream;
