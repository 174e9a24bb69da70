// One RFC 6120 server-to-server stream, sans-I/O: Server Dialback (XEP-0220) in all three roles,
// multiplexing of domain pairs, dialback errors and bidirectional streams (XEP-0288).
//
// Inputs are `handle*` methods (peer header, element, close, transport gone, TLS up, verification
// results from an authority, key work results, timeouts); commands are `start`, `authenticate`,
// `sendStanza`, `requestVerify`, `revoke`, `close`; outputs come from `pollAction()` and
// `pollTimeout()`. Time is always a parameter. The stream-level states and their transitions are
// in ./phase.ts; the pair tables in ../dialback/pairs.ts. See src/engine/index.ts for how a shell
// drives this.

import { parse, Element } from "ltx";
import { bounce, StanzaError, StreamError, type StanzaErrorCondition, type StreamErrorCondition } from "../errors.js";
import { newStreamId as mintStreamId, type Domain, type StreamId } from "../types.js";
import type { Action, PairDirection, PairStateName, VerifyOutcome, AuditEvent } from "../engine/actions.js";
import {
  DEFAULT_ENGINE_LIMITS,
  LEVEL_RANK,
  certificateValidFor,
  type FederationLevel,
  type PeerCertificate,
  type PolicyView,
  type TlsInfo,
  type TransportInfo,
} from "../engine/ports.js";
import type { StreamSnapshot } from "../engine/snapshot.js";
import {
  NS_BIDI,
  NS_DIALBACK,
  NS_SERVER,
  NS_STREAM,
  NS_TLS,
  dbResult,
  dbVerify,
  featuresElement,
  headerAttrs,
  namespaceOf,
  readDialback,
  readFeatures,
  splitName,
  type DialbackCondition,
  type DialbackElement,
} from "../dialback/elements.js";
import {
  DeadlineQueue,
  pairKey,
  splitPairKey,
  verifyKey,
  type InboundPair,
  type OutboundPair,
  type OutstandingVerify,
} from "../dialback/pairs.js";
import { jidDomain, toDomain } from "./addressing.js";
import { EngineUsageError, transition, type Phase, type StreamRole } from "./phase.js";

export interface StreamTimeouts {
  /** RFC 6120 §4.6: the stream must be open (headers, features, TLS) within this many ms. */
  negotiation: number;
  /** XEP-0220: a dialback request (either direction) must be answered within this many ms. */
  dialback: number;
  /** A db:verify sent to an Authoritative Server must be answered within this many ms. */
  verify: number;
}

export const DEFAULT_TIMEOUTS: StreamTimeouts = { negotiation: 60_000, dialback: 90_000, verify: 60_000 };

export interface S2SStreamOptions {
  role: StreamRole;
  policy: PolicyView;
  transport: TransportInfo;
  /** Creation time (ms); the negotiation timeout runs from here. */
  now: number;
  /** Initiating role: our domain (stream header 'from') and the peer's (header 'to'). */
  local?: Domain;
  remote?: Domain;
  timeouts?: Partial<StreamTimeouts>;
  /** Deterministic ids for tests; default 128 random bits. */
  newStreamId?: () => StreamId;
  /** Behave as a pre-XMPP-1.0 server (XEP-0238 type 1): no version, no features, no TLS. */
  legacy?: boolean;
  /** Initiating role: use STARTTLS whenever offered (default true), not only when required. */
  preferTls?: boolean;
}

const STANZAS = new Set(["message", "presence", "iq"]);

/** Bounce condition for a pair whose dialback ended with `condition` (the issue's one table). */
function bounceConditionFor(condition: DialbackCondition): StanzaErrorCondition {
  switch (condition) {
    case "internal-server-error": // type='invalid' (seed 001, XEP-0220 §2.1.1)
    case "resource-constraint":
    case "forbidden":
    case "policy-violation":
    case "remote-server-not-found":
      return condition;
    case "not-authorized":
      return "forbidden";
    default:
      // XEP-0220 §2.4: any dialback error -> remote-server-timeout.
      return "remote-server-timeout";
  }
}

export class S2SStream {
  readonly role: StreamRole;
  readonly #policy: PolicyView;
  readonly #transport: TransportInfo;
  readonly #timeouts: StreamTimeouts;
  readonly #mintId: () => StreamId;
  readonly #legacy: boolean;
  readonly #preferTls: boolean;

  #phase: Phase;
  #streamId: StreamId | undefined;
  #local: Domain | undefined;
  #remote: Domain | undefined;
  #peerVersion1 = false;
  #peerHeaderSeen = false;
  #headerSent = false;
  #secure: boolean;
  #peerCertificate: PeerCertificate | undefined;
  #offeredTls = false;
  #offeredBidi = false;
  #peerDialbackErrors = false;
  #bidi = false;
  #scope: Record<string, string> = {};
  #nextHandle = 1;
  #negotiationDeadline: number | undefined;

  readonly #inbound = new Map<string, InboundPair>();
  readonly #inByHandle = new Map<number, string>();
  readonly #outbound = new Map<string, OutboundPair>();
  readonly #keyOps = new Map<number, string>();
  #pending = 0;
  readonly #verifies = new Map<string, OutstandingVerify[]>();
  readonly #verifyByHandle = new Map<number, OutstandingVerify>();
  readonly #checks = new Map<number, { from: Domain; to: Domain; id: string; key: string }>();

  readonly #inDeadlines = new DeadlineQueue<number>();
  readonly #outDeadlines = new DeadlineQueue<string>();
  readonly #verifyDeadlines = new DeadlineQueue<number>();

  #actions: Action[] = [];
  #actionHead = 0;

  constructor(opts: S2SStreamOptions) {
    this.role = opts.role;
    this.#policy = opts.policy;
    this.#transport = opts.transport;
    this.#timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
    this.#mintId = opts.newStreamId ?? mintStreamId;
    this.#legacy = opts.legacy ?? false;
    this.#preferTls = opts.preferTls ?? true;
    this.#secure = opts.transport.secure;
    this.#peerCertificate = opts.transport.peerCertificate;
    this.#local = opts.local;
    this.#remote = opts.remote;
    if (opts.role === "initiating" && (!opts.local || !opts.remote)) {
      throw new EngineUsageError("an initiating stream needs local and remote domains");
    }
    this.#phase = opts.role === "initiating" ? { name: "idle" } : { name: "awaiting-header" };
    this.#negotiationDeadline = opts.now + this.#timeouts.negotiation;
  }

  // ---------------------------------------------------------------- getters

  get phase(): Phase["name"] {
    return this.#phase.name;
  }
  /** The id dialback keys on this stream are bound to (ours when receiving, the peer's when initiating). */
  get streamId(): StreamId | undefined {
    return this.#streamId;
  }
  get local(): Domain | undefined {
    return this.#local;
  }
  get remote(): Domain | undefined {
    return this.#remote;
  }
  get bidi(): boolean {
    return this.#bidi;
  }
  get secure(): boolean {
    return this.#secure;
  }
  get peerDialbackErrors(): boolean {
    return this.#peerDialbackErrors;
  }
  /** Dialback requests (both directions) awaiting an answer. */
  get pendingCount(): number {
    return this.#pending;
  }
  /** State of a pair: "none" when unknown or failed. */
  pairState(direction: PairDirection, local: Domain, remote: Domain): "none" | "pending" | "valid" | "failed" {
    if (direction === "inbound") {
      const r = this.#inbound.get(pairKey(remote, local));
      return r ? r.state : "none";
    }
    const r = this.#outbound.get(pairKey(local, remote));
    if (!r) return "none";
    return r.state === "keying" ? "pending" : r.state;
  }
  /** Number of verified pairs per direction. */
  validPairCount(direction: PairDirection): number {
    let n = 0;
    for (const r of (direction === "inbound" ? this.#inbound : this.#outbound).values()) if (r.state === "valid") n++;
    return n;
  }

  // ---------------------------------------------------------------- outputs

  pollAction(): Action | undefined {
    if (this.#actionHead >= this.#actions.length) {
      if (this.#actionHead > 0) {
        this.#actions = [];
        this.#actionHead = 0;
      }
      return undefined;
    }
    return this.#actions[this.#actionHead++];
  }

  /** All queued actions, in order. */
  drainActions(): Action[] {
    const out = this.#actions.slice(this.#actionHead);
    this.#actions = [];
    this.#actionHead = 0;
    return out;
  }

  /** The next deadline (ms) at which `handleTimeout` must be called, or undefined. */
  pollTimeout(): number | undefined {
    if (this.#phase.name === "closed") return undefined;
    let next = this.#phase.name === "open" ? undefined : this.#negotiationDeadline;
    const consider = (t: number | undefined) => {
      if (t !== undefined && (next === undefined || t < next)) next = t;
    };
    consider(this.#inDeadlines.peek((h, at) => this.#inLive(h, at)));
    consider(this.#outDeadlines.peek((k, at) => this.#outLive(k, at)));
    consider(this.#verifyDeadlines.peek((h) => this.#verifyByHandle.has(h)));
    return next;
  }

  #emit(a: Action): void {
    this.#actions.push(a);
  }
  #send(element: Element): void {
    this.#emit({ type: "send", data: { kind: "element", element } });
  }
  #audit(event: AuditEvent, detail: string, local?: Domain, remote?: Domain): void {
    this.#emit({ type: "audit", event, detail, ...(local ? { local } : {}), ...(remote ? { remote } : {}) });
  }
  #pairState(
    direction: PairDirection,
    local: Domain,
    remote: Domain,
    state: PairStateName,
    extra: { condition?: DialbackCondition; level?: FederationLevel } = {},
  ): void {
    this.#emit({ type: "pair-state", local, remote, direction, state, ...extra });
  }
  #bounceAll(queue: Element[], condition: StanzaErrorCondition): void {
    const err = new StanzaError(condition);
    for (const stanza of queue) {
      const reply = bounce(stanza, err);
      if (reply) this.#emit({ type: "bounce", stanza: reply, condition });
    }
  }

  // ---------------------------------------------------------------- commands

  /** Initiating role: send our stream header (RFC 6120 §4.7). */
  start(now: number): void {
    if (this.role !== "initiating") throw new EngineUsageError("start() is for initiating streams");
    this.#phase = transition(this.#phase, { name: "awaiting-header" });
    this.#negotiationDeadline = now + this.#timeouts.negotiation;
    this.#sendOurInitiatingHeader();
  }

  /**
   * Originating role, XEP-0220 §2.1.1: authenticate `local` -> `remote` on this stream (sender
   * multiplexing, target multiplexing). Allowed on initiating streams, and on receiving streams once
   * XEP-0288 bidi is enabled. Stanzas for the pair queue until `type='valid'`.
   */
  authenticate(local: Domain, remote: Domain, now: number): void {
    if (this.role !== "initiating" && !this.#bidi) {
      throw new EngineUsageError("dialback as originating needs an initiating or bidi stream");
    }
    if (!this.#policy.isHosted(local)) throw new EngineUsageError(`${local} is not a hosted domain`);
    const key = pairKey(local, remote);
    const existing = this.#outbound.get(key);
    if (existing && existing.state !== "failed") return;
    if (this.#phase.name === "closed") {
      this.#outbound.set(key, { state: "failed", condition: "remote-server-timeout" });
      this.#pairState("outbound", local, remote, "error", { condition: "remote-server-timeout" });
      return;
    }
    const pol = this.#policy.forRemote(remote);
    if (!pol.allowed) {
      this.#outbound.set(key, { state: "failed", condition: pol.condition });
      this.#audit("policy-refusal", `outbound ${local} -> ${remote} refused by policy${pol.reason ? `: ${pol.reason}` : ""}`, local, remote);
      this.#pairState("outbound", local, remote, "error", { condition: pol.condition });
      return;
    }
    if (this.#pending >= this.#policy.limits().maxPendingPerStream) {
      this.#outbound.set(key, { state: "failed", condition: "resource-constraint" });
      this.#pairState("outbound", local, remote, "error", { condition: "resource-constraint" });
      return;
    }
    const rec: OutboundPair = { state: "keying", handle: 0, queue: [] };
    this.#outbound.set(key, rec);
    this.#pending++;
    this.#pairState("outbound", local, remote, "pending");
    if (this.#phase.name === "open") this.#requestKey(key, rec);
    void now;
  }

  /**
   * Route a stanza from a local sender to the peer. Sent at once on a verified pair (or, with bidi,
   * the inverse of a pair the peer verified); otherwise queued behind dialback (started if needed),
   * or bounced (closed stream, full queue, policy).
   */
  sendStanza(stanza: Element, now: number): void {
    const from = jidDomain(stanza.attrs.from);
    const to = jidDomain(stanza.attrs.to);
    if (!from || !to) throw new EngineUsageError("stanza needs valid from and to addresses");
    if (!this.#policy.isHosted(from)) throw new EngineUsageError(`${from} is not a hosted domain`);
    if (this.#phase.name === "closed") {
      this.#bounceAll([stanza], this.#peerHeaderSeen ? "remote-server-timeout" : "remote-server-not-found");
      return;
    }
    if (this.#maySend(from, to)) {
      this.#send(stanza);
      return;
    }
    if (this.role !== "initiating" && !this.#bidi) {
      throw new EngineUsageError("a receiving stream without bidi cannot carry outgoing stanzas");
    }
    const key = pairKey(from, to);
    let rec = this.#outbound.get(key);
    if (!rec || rec.state === "failed") {
      this.#outbound.delete(key);
      this.authenticate(from, to, now);
      rec = this.#outbound.get(key)!;
    }
    if (rec.state === "failed") {
      this.#bounceAll([stanza], bounceConditionFor(rec.condition));
    } else if (rec.state === "valid") {
      this.#send(stanza);
    } else if (rec.queue.length >= this.#policy.limits().maxQueuedPerPair) {
      this.#bounceAll([stanza], "resource-constraint");
    } else {
      rec.queue.push(stanza);
    }
  }

  /**
   * Use this stream to reach an Authoritative Server (XEP-0220 §2.1.2 step 2): send
   * `<db:verify from to id>key</db:verify>` (once the stream is open) and report the answer as a
   * `verify-result` action with the returned handle. Many requests may be outstanding.
   */
  requestVerify(req: { from: Domain; to: Domain; id: string; key: string }, now: number): number {
    if (this.#streamId !== undefined && req.id === this.#streamId) {
      // XEP-0288 §2.1 / XEP-0220 §4: never verify a key on the connection it was received on.
      throw new EngineUsageError("a key must not be verified on the stream it was received on");
    }
    if (!this.#policy.isHosted(req.from)) throw new EngineUsageError(`${req.from} is not a hosted domain`);
    const handle = this.#nextHandle++;
    const fail = (condition: DialbackCondition) =>
      this.#emit({ type: "verify-result", handle, from: req.from, to: req.to, id: req.id, outcome: { type: "error", condition } });
    if (this.#phase.name === "closed") {
      fail("remote-connection-failed");
      return handle;
    }
    if (this.#verifyByHandle.size >= this.#policy.limits().maxOutstandingVerifies) {
      fail("resource-constraint");
      return handle;
    }
    const v: OutstandingVerify = { handle, ...req, sent: false, deadline: now + this.#timeouts.verify };
    const k = verifyKey(req.from, req.to, req.id);
    const list = this.#verifies.get(k);
    if (list) list.push(v);
    else this.#verifies.set(k, [v]);
    this.#verifyByHandle.set(handle, v);
    this.#verifyDeadlines.push(v.deadline, handle);
    if (this.#phase.name === "open") this.#sendVerify(v);
    return handle;
  }

  /** Withdraw a pair (e.g. policy changed): both directions; later stanzas on it are refused. */
  revoke(local: Domain, remote: Domain, _now: number): void {
    const inKey = pairKey(remote, local);
    const inRec = this.#inbound.get(inKey);
    if (inRec) {
      if (inRec.state === "pending") {
        this.#inByHandle.delete(inRec.handle);
        this.#pending--;
      }
      this.#inbound.delete(inKey);
      this.#pairState("inbound", local, remote, "revoked");
    }
    const outKey = pairKey(local, remote);
    const outRec = this.#outbound.get(outKey);
    if (outRec && outRec.state !== "failed") {
      if (outRec.state !== "valid") {
        this.#pending--;
        this.#bounceAll(outRec.queue, "forbidden");
      }
      this.#outbound.set(outKey, { state: "failed", condition: "forbidden" });
      this.#pairState("outbound", local, remote, "revoked");
    }
  }

  /** End the stream: with a stream error when `condition` is given (RFC 6120 §4.9), else cleanly. */
  close(_now: number, condition?: StreamErrorCondition, text?: string): void {
    if (this.#phase.name === "closed") return;
    if (condition) this.#fail(new StreamError(condition, text));
    else {
      this.#emit({ type: "send", data: { kind: "close" } });
      this.#finish("us");
    }
  }

  // ---------------------------------------------------------------- inputs

  /** The peer's stream header (`<stream:stream ...>` attributes, namespace declarations included). */
  handleOpen(attrs: Record<string, string>, now: number): void {
    if (this.#phase.name !== "awaiting-header") {
      if (this.#phase.name !== "closed") this.#fail(new StreamError("bad-format", "unexpected stream header"));
      return;
    }
    this.#peerHeaderSeen = true;
    this.#scope = {};
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "xmlns") this.#scope[""] = v;
      else if (k.startsWith("xmlns:")) this.#scope[k.slice(6)] = v;
    }
    const version = attrs.version === undefined ? 0 : Number.parseInt(attrs.version, 10);
    this.#peerVersion1 = Number.isFinite(version) && version >= 1;
    if (this.role === "receiving") this.#openReceiving(attrs, now);
    else this.#openInitiating(attrs, now);
  }

  /** One top-level element from the peer. */
  handleElement(el: Element, now: number): void {
    const phase = this.#phase.name;
    if (phase === "closed") return;
    if (phase === "idle" || phase === "awaiting-header" || phase === "tls") {
      this.#fail(new StreamError("not-authorized", "element before the stream header"));
      return;
    }
    const ns = namespaceOf(el, this.#scope);
    const { local } = splitName(el.name);
    if (ns === NS_STREAM && local === "error") return this.#onPeerStreamError(el);
    if (ns === NS_STREAM && local === "features") return this.#onFeatures(el, now);
    if (ns === NS_TLS) return this.#onTls(local);
    if (phase !== "open") {
      this.#fail(new StreamError("not-authorized", `<${el.name}/> before stream negotiation finished`));
      return;
    }
    if (ns === NS_BIDI && local === "bidi") return this.#onBidiRequest();
    if (ns === NS_DIALBACK && (local === "result" || local === "verify")) {
      return this.#onDialback(readDialback(el, local), now);
    }
    if (ns === NS_SERVER && STANZAS.has(local)) return this.#onStanza(el);
    // RFC 6120 §4.9.3.24: a first-level element we do not support (including <bidi/> in the
    // feature namespace used as a request: XEP-0288 §2.2 wants 'urn:xmpp:bidi').
    this.#fail(new StreamError("unsupported-stanza-type", `<${el.name} xmlns='${ns}'/>`));
  }

  /** The peer closed its stream (`</stream:stream>`). */
  handleClose(_now: number): void {
    if (this.#phase.name === "closed") return;
    this.#emit({ type: "send", data: { kind: "close" } });
    this.#finish("peer");
  }

  /** The transport is gone (socket closed, TLS failed, connect failed). */
  handleTransportClosed(_now: number): void {
    if (this.#phase.name === "closed") return;
    this.#finish("transport");
  }

  /** STARTTLS completed (RFC 6120 §5.4.3.3): the stream restarts over TLS. */
  handleTlsEstablished(info: TlsInfo, now: number): void {
    if (this.#phase.name !== "tls") throw new EngineUsageError(`handleTlsEstablished in phase ${this.#phase.name}`);
    this.#secure = true;
    this.#peerCertificate = info.peerCertificate;
    this.#phase = transition(this.#phase, { name: "awaiting-header" });
    this.#peerDialbackErrors = false;
    this.#negotiationDeadline = now + this.#timeouts.negotiation;
    if (this.role === "initiating") this.#sendOurInitiatingHeader();
  }

  /** Answer to a `verify` action (receiving role, XEP-0220 §2.1.2 step 3 -> step 4). */
  handleVerifyResult(handle: number, outcome: VerifyOutcome, _now: number): void {
    const key = this.#inByHandle.get(handle);
    if (key === undefined || this.#phase.name === "closed") return; // timed out or stream gone
    const rec = this.#inbound.get(key);
    if (!rec || rec.state !== "pending" || rec.handle !== handle) return;
    this.#inByHandle.delete(handle);
    this.#pending--;
    const [sender, target] = splitPairKey(key);
    if (outcome.type === "valid") {
      // OF-2626: record the pair before type='valid' leaves, so a stanza right behind it is accepted.
      const level = this.#levelFor(sender);
      this.#inbound.set(key, { state: "valid", level });
      this.#send(dbResult({ from: target, to: sender, type: "valid" }));
      this.#pairState("inbound", target, sender, "valid", { level });
      return;
    }
    this.#inbound.delete(key);
    if (outcome.type === "invalid") {
      this.#audit("spoofing-attempt", `authority for ${sender} said the key for ${sender} -> ${target} is invalid`, target, sender);
      const pol = this.#policy.forRemote(sender);
      const keep = !pol.allowed || pol.onPairFailure === "keep-stream";
      if (this.#peerDialbackErrors && keep) {
        // XEP-0220 §2.1.2 + seed 001: a dialback error keeps the other pairs on this stream.
        this.#send(dbResult({ from: target, to: sender, type: "error", condition: "forbidden" }));
        this.#pairState("inbound", target, sender, "invalid", { condition: "forbidden" });
      } else {
        // XEP-0220 §2.2.1: type='invalid' obliges us to close the stream.
        this.#send(dbResult({ from: target, to: sender, type: "invalid" }));
        this.#pairState("inbound", target, sender, "invalid");
        this.#emit({ type: "send", data: { kind: "close" } });
        this.#finish("us");
      }
      return;
    }
    // XEP-0220 §2.4: connection problems pass through; an error from the authority in step 3 is
    // reported as remote-server-not-found.
    const c = outcome.condition;
    const condition: DialbackCondition =
      c === "remote-connection-failed" || c === "remote-server-timeout" || c === "remote-server-not-found"
        ? c
        : "remote-server-not-found";
    this.#refuseInbound(sender, target, condition, "remote-connection-failed");
  }

  /** Result of a `key`/"generate" action (originating role). */
  handleKeyGenerated(handle: number, key: string, now: number): void {
    const pk = this.#keyOps.get(handle);
    if (pk === undefined) return;
    this.#keyOps.delete(handle);
    const rec = this.#outbound.get(pk);
    if (!rec || rec.state !== "keying" || rec.handle !== handle || this.#phase.name !== "open") return;
    const [local, remote] = splitPairKey(pk);
    const pol = this.#policy.forRemote(remote);
    if (pol.allowed && LEVEL_RANK[this.#levelFor(remote)] < LEVEL_RANK[pol.minLevel]) {
      // XEP-0238: our policy wants more than this stream gives (no TLS, or no valid certificate).
      this.#failOutbound(pk, rec.queue, "policy-violation", "error");
      this.#audit("policy-refusal", `stream to ${remote} does not reach level ${pol.minLevel}`, local, remote);
      return;
    }
    const deadline = now + this.#timeouts.dialback;
    this.#outbound.set(pk, { state: "pending", deadline, queue: rec.queue });
    this.#outDeadlines.push(deadline, pk);
    this.#send(dbResult({ from: local, to: remote, key }));
  }

  /** Result of a `key`/"check" action (authoritative role, XEP-0220 §2.2.2). */
  handleKeyChecked(handle: number, valid: boolean, _now: number): void {
    const req = this.#checks.get(handle);
    if (!req) return;
    this.#checks.delete(handle);
    if (this.#phase.name === "closed") return;
    // From/to swapped, id copied (XEP-0220 §2.2.2).
    this.#send(dbVerify({ from: req.to, to: req.from, id: req.id, type: valid ? "valid" : "invalid" }));
  }

  /** Call at (or after) `pollTimeout()`. */
  handleTimeout(now: number): void {
    if (this.#phase.name === "closed") return;
    if (this.#phase.name !== "open" && this.#negotiationDeadline !== undefined && now >= this.#negotiationDeadline) {
      this.#fail(new StreamError("connection-timeout", "stream negotiation did not finish in time"));
      return;
    }
    for (const pk of this.#outDeadlines.takeDue(now, (k, at) => this.#outLive(k, at))) {
      const rec = this.#outbound.get(pk);
      if (rec && rec.state === "pending") this.#failOutbound(pk, rec.queue, "remote-server-timeout", "error");
    }
    for (const h of this.#inDeadlines.takeDue(now, (h, at) => this.#inLive(h, at))) {
      this.handleVerifyResult(h, { type: "error", condition: "remote-server-timeout" }, now);
      if ((this.#phase as Phase).name === "closed") return;
    }
    for (const h of this.#verifyDeadlines.takeDue(now, (h) => this.#verifyByHandle.has(h))) {
      const v = this.#verifyByHandle.get(h)!;
      this.#dropVerify(v);
      this.#emit({ type: "verify-result", handle: h, from: v.from, to: v.to, id: v.id, outcome: { type: "error", condition: "remote-server-timeout" } });
    }
  }

  // ---------------------------------------------------------------- negotiation

  #sendOurInitiatingHeader(): void {
    this.#headerSent = true;
    this.#emit({
      type: "send",
      data: { kind: "header", attrs: headerAttrs({ from: this.#local, to: this.#remote, version: !this.#legacy }) },
    });
  }

  // RFC 6120 §4.7 (receiving): answer the header, then offer features per policy.
  #openReceiving(attrs: Record<string, string>, now: number): void {
    this.#streamId = this.#mintId();
    const to = toDomain(attrs.to);
    const from = attrs.from === undefined ? undefined : toDomain(attrs.from);
    this.#local = to;
    this.#remote = from;
    const v1 = this.#peerVersion1 && !this.#legacy;
    if (attrs.xmlns !== NS_SERVER || (attrs["xmlns:stream"] !== undefined && attrs["xmlns:stream"] !== NS_STREAM)) {
      return this.#fail(new StreamError("invalid-namespace", "S2S streams are jabber:server"), attrs);
    }
    if (!to || !this.#policy.isHosted(to)) return this.#fail(new StreamError("host-unknown"), attrs);
    if (attrs.from !== undefined && !from) return this.#fail(new StreamError("invalid-from"), attrs);
    this.#headerSent = true;
    this.#emit({ type: "send", data: { kind: "header", attrs: headerAttrs({ from: to, to: attrs.from, id: this.#streamId, version: v1 }) } });
    if (v1) {
      const pol = this.#policy.forRemote(from);
      this.#offeredTls = !this.#secure && this.#transport.canStartTls;
      const tlsRequired = this.#offeredTls && pol.allowed && pol.minLevel !== "verified";
      this.#offeredBidi = pol.allowed && pol.bidi;
      this.#send(featuresElement({ starttls: this.#offeredTls, tlsRequired, bidi: this.#offeredBidi }));
      // XEP-0220 §2.4: "the server that generates the error SHOULD still attempt to send the dialback
      // error"; an XMPP 1.0 peer gets dialback errors, a pre-1.0 one gets RFC 3920 behaviour.
      this.#peerDialbackErrors = true;
    } else {
      this.#offeredTls = false;
      this.#offeredBidi = false;
    }
    this.#open(now);
  }

  #openInitiating(attrs: Record<string, string>, now: number): void {
    if (attrs.xmlns !== NS_SERVER) return this.#fail(new StreamError("invalid-namespace", "S2S streams are jabber:server"));
    if (!attrs.id) return this.#fail(new StreamError("undefined-condition", "stream header without id"));
    this.#streamId = attrs.id as StreamId;
    if (this.#peerVersion1 && !this.#legacy) {
      this.#phase = transition(this.#phase, { name: "awaiting-features" });
    } else {
      this.#open(now);
    }
  }

  // RFC 6120 §4.3.2 (initiating): TLS first when wanted, then bidi, then dialback.
  #onFeatures(el: Element, now: number): void {
    // XEP-0238 §4.4: a pre-1.0 server "ignores the stream features".
    if (this.role === "initiating" && this.#legacy) return;
    if (this.role !== "initiating" || this.#phase.name !== "awaiting-features") {
      return this.#fail(new StreamError("unsupported-stanza-type", "unexpected stream features"));
    }
    const f = readFeatures(el);
    this.#peerDialbackErrors = f.dialbackErrors;
    const pol = this.#policy.forRemote(this.#remote);
    const wantsTls = this.#preferTls || f.tlsRequired || (pol.allowed && pol.minLevel !== "verified");
    if (!this.#secure && f.starttls && this.#transport.canStartTls && wantsTls) {
      this.#phase = transition(this.#phase, { name: "awaiting-proceed" });
      this.#send(new Element("starttls", { xmlns: NS_TLS }));
      return;
    }
    if (!this.#secure && f.tlsRequired) {
      // The peer insists on TLS we cannot do (XEP-0238 "U"): leave; queued stanzas bounce.
      this.#audit("policy-refusal", `${this.#remote} requires STARTTLS, which this transport cannot do`, this.#local, this.#remote);
      this.#emit({ type: "send", data: { kind: "close" } });
      this.#finish("us");
      return;
    }
    if (f.bidi && pol.allowed && pol.bidi) {
      // XEP-0288 §2.2: request bidi before dialback; the request namespace is urn:xmpp:bidi.
      this.#send(new Element("bidi", { xmlns: NS_BIDI }));
      this.#bidi = true;
    }
    this.#open(now);
  }

  #onTls(local: string): void {
    const phase = this.#phase.name;
    if (this.role === "receiving" && local === "starttls" && phase === "open" && this.#offeredTls && !this.#secure && this.#inbound.size === 0 && this.#outbound.size === 0) {
      this.#send(new Element("proceed", { xmlns: NS_TLS }));
      this.#phase = transition(this.#phase, { name: "tls" });
      this.#emit({ type: "start-tls" });
      return;
    }
    if (this.role === "initiating" && phase === "awaiting-proceed" && local === "proceed") {
      this.#phase = transition(this.#phase, { name: "tls" });
      this.#emit({ type: "start-tls" });
      return;
    }
    if (this.role === "receiving" && local === "starttls") {
      // RFC 6120 §5.4.2.2: <failure/>, then close the stream.
      this.#send(new Element("failure", { xmlns: NS_TLS }));
      this.#emit({ type: "send", data: { kind: "close" } });
      this.#finish("us");
      return;
    }
    if (this.role === "initiating" && phase === "awaiting-proceed" && local === "failure") {
      this.#emit({ type: "send", data: { kind: "close" } });
      this.#finish("peer");
      return;
    }
    this.#fail(new StreamError("unsupported-stanza-type", `unexpected TLS element <${local}/>`));
  }

  // XEP-0288 §2.2: the initiator asks for bidi with <bidi xmlns='urn:xmpp:bidi'/>.
  #onBidiRequest(): void {
    if (this.role !== "receiving" || !this.#offeredBidi) {
      return this.#fail(new StreamError("unsupported-stanza-type", "bidi was not offered"));
    }
    this.#bidi = true;
    // XEP-0288 §2.2: a peer using bidi with dialback MUST support dialback errors.
    this.#peerDialbackErrors = true;
  }

  #open(now: number): void {
    this.#phase = transition(this.#phase, { name: "open" });
    this.#negotiationDeadline = undefined;
    for (const [key, rec] of this.#outbound) if (rec.state === "keying" && rec.handle === 0) this.#requestKey(key, rec);
    for (const v of this.#verifyByHandle.values()) if (!v.sent) this.#sendVerify(v);
    void now;
  }

  #onPeerStreamError(el: Element): void {
    const cond = el.children.find((c): c is Element => typeof c !== "string" && c.name !== "text");
    this.#emit({ type: "send", data: { kind: "close" } });
    this.#finish("peer", (cond?.name as StreamErrorCondition | undefined) ?? "undefined-condition");
  }

  // ---------------------------------------------------------------- dialback

  #onDialback(db: DialbackElement, now: number): void {
    if (db.type === "bogus") return this.#fail(new StreamError("bad-format", `unknown dialback type`));
    if (db.kind === "result") {
      if (db.type === undefined) this.#onResultRequest(db, now);
      else this.#onResultResponse(db);
    } else if (db.type === undefined) this.#onVerifyRequest(db);
    else this.#onVerifyResponse(db);
  }

  // XEP-0220 §2.2.1: Receiving Server gets a key from an Initiating Server.
  #onResultRequest(db: DialbackElement, now: number): void {
    if (this.role === "initiating" && !this.#bidi) {
      // Without XEP-0288 the peer must not authenticate towards us on our own outgoing stream.
      return this.#fail(new StreamError("unsupported-stanza-type", "db:result request on a unidirectional outgoing stream"));
    }
    const sender = toDomain(db.from);
    const target = toDomain(db.to);
    if (!sender) return this.#fail(new StreamError("invalid-from", "db:result without a valid 'from'"));
    if (!target || !this.#policy.isHosted(target)) {
      // XEP-0220 §2.2.1: a dialback error, not a stream error (other pairs may use this stream).
      return this.#refuseInbound(sender, (target ?? db.to ?? "") as Domain, "item-not-found", "host-unknown", false);
    }
    const key = pairKey(sender, target);
    const existing = this.#inbound.get(key);
    if (existing?.state === "valid") {
      this.#send(dbResult({ from: target, to: sender, type: "valid" }));
      return;
    }
    if (existing) return; // already pending: the answer to the first request will come
    const pol = this.#policy.forRemote(sender);
    if (!pol.allowed) {
      this.#audit("policy-refusal", `inbound ${sender} -> ${target} refused by policy${pol.reason ? `: ${pol.reason}` : ""}`, target, sender);
      return this.#refuseInbound(sender, target, pol.condition, pol.condition === "forbidden" ? "policy-violation" : pol.condition);
    }
    const level = this.#levelFor(sender);
    if (LEVEL_RANK[level] < LEVEL_RANK[pol.minLevel]) {
      // XEP-0220 §2.4: policy-violation = TLS required first; not-authorized = a valid certificate
      // is required. XEP-0238 §4 shows pre-1.0 peers a not-authorized stream error.
      const condition = pol.minLevel === "trusted" && this.#secure ? "not-authorized" : "policy-violation";
      this.#audit("policy-refusal", `inbound ${sender} -> ${target} at level ${level}, policy wants ${pol.minLevel}`, target, sender);
      return this.#refuseInbound(sender, target, condition, "not-authorized");
    }
    if (this.#pending >= this.#policy.limits().maxPendingPerStream) {
      this.#audit("policy-refusal", `too many pending dialback requests on one stream`, target, sender);
      return this.#refuseInbound(sender, target, "policy-violation", "policy-violation");
    }
    if (level === "trusted") {
      // XEP-0220 §1.2 / XEP-0344: a CA-valid certificate for the sender proves the identity
      // ("dialback without dialing back").
      this.#inbound.set(key, { state: "valid", level });
      this.#send(dbResult({ from: target, to: sender, type: "valid" }));
      this.#pairState("inbound", target, sender, "valid", { level });
      return;
    }
    const handle = this.#nextHandle++;
    const deadline = now + this.#timeouts.dialback;
    this.#inbound.set(key, { state: "pending", handle, deadline });
    this.#inByHandle.set(handle, key);
    this.#inDeadlines.push(deadline, handle);
    this.#pending++;
    this.#pairState("inbound", target, sender, "pending");
    this.#emit({ type: "verify", handle, from: target, to: sender, id: this.#streamId!, key: db.key });
  }

  /**
   * A dialback error for an inbound request (XEP-0220 §2.4) when the peer handles them, else the
   * RFC 3920 way: a stream error.
   */
  #refuseInbound(
    sender: Domain,
    target: Domain,
    condition: DialbackCondition,
    legacy: StreamErrorCondition,
    report = true,
  ): void {
    if (this.#peerDialbackErrors) {
      this.#send(dbResult({ from: target, to: sender, type: "error", condition }));
      if (report) this.#pairState("inbound", target, sender, "error", { condition });
    } else {
      if (report) this.#pairState("inbound", target, sender, "error", { condition });
      this.#fail(new StreamError(legacy));
    }
  }

  // XEP-0220 §2.1.1 step 4: the answer to our db:result. Only for a request we sent on this very
  // stream in this direction (XEP-0220 §4.1, XEP-0288 §4); anything else is unsolicited.
  #onResultResponse(db: DialbackElement): void {
    const local = toDomain(db.to);
    const remote = toDomain(db.from);
    const key = local && remote ? pairKey(local, remote) : undefined;
    const rec = key ? this.#outbound.get(key) : undefined;
    if (!key || !rec || rec.state !== "pending") {
      this.#audit("unsolicited-dialback", `db:result type='${db.type}' from='${db.from}' to='${db.to}' answers no request on this stream`, local, remote);
      return;
    }
    this.#pending--;
    if (db.type === "valid") {
      const level = this.#levelFor(remote!);
      this.#outbound.set(key, { state: "valid", level });
      this.#pairState("outbound", local!, remote!, "valid", { level });
      for (const stanza of rec.queue) this.#send(stanza);
    } else if (db.type === "invalid") {
      // XEP-0220 §2.1.1 / seed 001: queued stanzas return with internal-server-error.
      this.#outbound.set(key, { state: "failed", condition: "internal-server-error" });
      this.#pairState("outbound", local!, remote!, "invalid");
      this.#bounceAll(rec.queue, "internal-server-error");
    } else {
      const condition = db.condition ?? "undefined-condition";
      this.#outbound.set(key, { state: "failed", condition });
      this.#pairState("outbound", local!, remote!, "error", { condition });
      // XEP-0220 §2.4: dialback errors return queued stanzas with remote-server-timeout.
      this.#bounceAll(rec.queue, "remote-server-timeout");
    }
  }

  // XEP-0220 §2.2.2: Authoritative Server answers a db:verify (on any stream; verify-only streams
  // need no authentication).
  #onVerifyRequest(db: DialbackElement): void {
    const from = toDomain(db.from);
    if (!from || !db.id || db.to === undefined) {
      return this.#fail(new StreamError("bad-format", "db:verify needs from, to and id"));
    }
    const to = toDomain(db.to);
    if (!to || !this.#policy.isHosted(to)) {
      this.#send(dbVerify({ from: db.to as Domain, to: from, id: db.id, type: "error", condition: "item-not-found" }));
      return;
    }
    const handle = this.#nextHandle++;
    const req = { from, to, id: db.id, key: db.key };
    this.#checks.set(handle, req);
    this.#emitCheck(handle, req);
  }

  #emitCheck(handle: number, req: { from: Domain; to: Domain; id: string; key: string }): void {
    this.#emit({
      type: "key",
      op: "check",
      handle,
      input: { receiving: req.from, originating: req.to, streamId: req.id as StreamId },
      key: req.key,
    });
  }

  // XEP-0220 §2.1.2 step 3: the authority's answer must match an outstanding request on this stream.
  #onVerifyResponse(db: DialbackElement): void {
    const k = db.id !== undefined && db.from !== undefined && db.to !== undefined ? verifyKey(db.to, db.from, db.id) : undefined;
    const v = k ? this.#verifies.get(k)?.find((x) => x.sent) : undefined;
    if (!v) {
      this.#audit("unsolicited-dialback", `db:verify type='${db.type}' from='${db.from}' to='${db.to}' id='${db.id}' answers no request on this stream`);
      return;
    }
    this.#dropVerify(v);
    const outcome: VerifyOutcome =
      db.type === "valid" ? { type: "valid" } : db.type === "invalid" ? { type: "invalid" } : { type: "error", condition: db.condition ?? "undefined-condition" };
    this.#emit({ type: "verify-result", handle: v.handle, from: v.from, to: v.to, id: v.id, outcome });
  }

  #sendVerify(v: OutstandingVerify): void {
    v.sent = true;
    this.#send(dbVerify({ from: v.from, to: v.to, id: v.id, key: v.key }));
  }

  #dropVerify(v: OutstandingVerify): void {
    this.#verifyByHandle.delete(v.handle);
    const k = verifyKey(v.from, v.to, v.id);
    const list = this.#verifies.get(k);
    if (!list) return;
    const i = list.indexOf(v);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#verifies.delete(k);
  }

  #requestKey(key: string, rec: Extract<OutboundPair, { state: "keying" }>): void {
    rec.handle = this.#nextHandle++;
    this.#keyOps.set(rec.handle, key);
    const [local, remote] = splitPairKey(key);
    // XEP-0185 §3: key over (receiving = target, originating = sender, stream id of this stream).
    this.#emit({ type: "key", op: "generate", handle: rec.handle, input: { receiving: remote, originating: local, streamId: this.#streamId! } });
  }

  #failOutbound(key: string, queue: Element[], condition: DialbackCondition, state: PairStateName): void {
    const [local, remote] = splitPairKey(key);
    this.#outbound.set(key, { state: "failed", condition });
    this.#pending--;
    this.#pairState("outbound", local, remote, state, { condition });
    this.#bounceAll(queue, bounceConditionFor(condition));
  }

  // ---------------------------------------------------------------- stanzas

  // RFC 6120 §4.9.3.9 / XEP-0220 §2: only stanzas on a verified pair (or, with XEP-0288, the inverse
  // of a pair we verified) are accepted; everything else ends the stream.
  #onStanza(el: Element): void {
    const from = jidDomain(el.attrs.from);
    const to = jidDomain(el.attrs.to);
    if (el.attrs.from === undefined || el.attrs.to === undefined) {
      return this.#fail(new StreamError("improper-addressing", "S2S stanzas need from and to"));
    }
    if (!to || !this.#policy.isHosted(to)) {
      this.#audit("unauthorized-stanza", `stanza to unhosted '${el.attrs.to}'`, undefined, from);
      return this.#fail(new StreamError("host-unknown"));
    }
    if (!from || !this.#mayReceive(from, to)) {
      this.#audit("unauthorized-stanza", `stanza from '${el.attrs.from}' to ${to} on no verified pair`, to, from);
      return this.#fail(new StreamError("invalid-from"));
    }
    this.#emit({ type: "deliver", stanza: el, from, to });
  }

  #mayReceive(remote: Domain, local: Domain): boolean {
    if (this.#inbound.get(pairKey(remote, local))?.state === "valid") return true;
    return this.#bidi && this.#outbound.get(pairKey(local, remote))?.state === "valid";
  }

  #maySend(local: Domain, remote: Domain): boolean {
    if (this.#phase.name !== "open") return false;
    if (this.#outbound.get(pairKey(local, remote))?.state === "valid") return true;
    // XEP-0288 §2.2: the inverse of a pair the peer verified with us.
    return this.#bidi && this.#inbound.get(pairKey(remote, local))?.state === "valid";
  }

  #levelFor(remote: Domain): FederationLevel {
    if (!this.#secure) return "verified";
    return certificateValidFor(this.#peerCertificate, remote) ? "trusted" : "encrypted";
  }

  // ---------------------------------------------------------------- ending

  /** RFC 6120 §4.9.1: send the error (after our header if none was sent yet), close, finish. */
  #fail(err: StreamError, peerAttrs?: Record<string, string>): void {
    if (this.#phase.name === "closed") return;
    if (!this.#headerSent && this.role === "receiving") {
      this.#headerSent = true;
      const a = peerAttrs ?? {};
      this.#emit({
        type: "send",
        data: {
          kind: "header",
          attrs: headerAttrs({ from: a.to, to: a.from, id: this.#streamId ?? this.#mintId(), version: this.#peerVersion1 && !this.#legacy }),
        },
      });
    }
    this.#send(err.toElement());
    this.#emit({ type: "send", data: { kind: "close" } });
    this.#finish("us", err.condition);
  }

  /** The stream is over: nothing pending survives; queued stanzas bounce; `closed` is last. */
  #finish(by: "us" | "peer" | "transport", error?: StreamErrorCondition): void {
    this.#phase = transition(this.#phase, error ? { name: "closed", by, error } : { name: "closed", by });
    // The bounce table: never reached the peer's stream -> remote-server-not-found; the peer opened
    // a stream but dialback did not finish -> remote-server-timeout.
    const condition: StanzaErrorCondition = this.#peerHeaderSeen ? "remote-server-timeout" : "remote-server-not-found";
    for (const [key, rec] of this.#outbound) {
      if (rec.state === "keying" || rec.state === "pending") {
        const [local, remote] = splitPairKey(key);
        this.#outbound.set(key, { state: "failed", condition });
        this.#pairState("outbound", local, remote, "error", { condition });
        this.#bounceAll(rec.queue, condition);
      }
    }
    for (const [key, rec] of this.#inbound) {
      if (rec.state === "pending") {
        const [sender, target] = splitPairKey(key);
        this.#inbound.delete(key);
        this.#pairState("inbound", target, sender, "error", { condition: "remote-server-timeout" });
      }
    }
    this.#inByHandle.clear();
    this.#keyOps.clear();
    this.#checks.clear();
    this.#pending = 0;
    // XEP-0220 §2.1.2: pending verifications on a closed stream count as failed.
    for (const v of [...this.#verifyByHandle.values()]) {
      this.#dropVerify(v);
      this.#emit({ type: "verify-result", handle: v.handle, from: v.from, to: v.to, id: v.id, outcome: { type: "error", condition: "remote-server-timeout" } });
    }
    this.#emit(error ? { type: "closed", by, error } : { type: "closed", by });
  }

  #inLive(handle: number, at: number): boolean {
    const key = this.#inByHandle.get(handle);
    const rec = key === undefined ? undefined : this.#inbound.get(key);
    return rec?.state === "pending" && rec.handle === handle && rec.deadline === at;
  }

  #outLive(key: string, at: number): boolean {
    const rec = this.#outbound.get(key);
    return rec?.state === "pending" && rec.deadline === at;
  }

  // ---------------------------------------------------------------- hibernation

  /** JSON-serialisable state; take it after draining `pollAction()`. */
  snapshot(): StreamSnapshot {
    return {
      v: 1,
      role: this.role,
      phase: this.#phase,
      streamId: this.#streamId,
      local: this.#local,
      remote: this.#remote,
      legacy: this.#legacy,
      peerVersion1: this.#peerVersion1,
      peerHeaderSeen: this.#peerHeaderSeen,
      headerSent: this.#headerSent,
      secure: this.#secure,
      peerCertificate: this.#peerCertificate,
      offeredTls: this.#offeredTls,
      offeredBidi: this.#offeredBidi,
      peerDialbackErrors: this.#peerDialbackErrors,
      bidi: this.#bidi,
      scope: this.#scope,
      nextHandle: this.#nextHandle,
      negotiationDeadline: this.#negotiationDeadline,
      inbound: [...this.#inbound],
      outbound: [...this.#outbound].map(([k, r]) => {
        if (r.state === "keying") return [k, { state: "keying", queue: r.queue.map(String) }];
        if (r.state === "pending") return [k, { state: "pending", deadline: r.deadline, queue: r.queue.map(String) }];
        return [k, r];
      }),
      verifies: [...this.#verifyByHandle.values()].map((v) => ({ ...v })),
      checks: [...this.#checks],
    };
  }

  /**
   * Rebuild a stream from `snapshot()`. Key work that was in flight is requested again: poll the
   * actions after restoring.
   */
  static restore(
    snap: StreamSnapshot,
    deps: { policy: PolicyView; transport: TransportInfo; timeouts?: Partial<StreamTimeouts>; newStreamId?: () => StreamId; preferTls?: boolean },
  ): S2SStream {
    if (snap.v !== 1) throw new EngineUsageError(`unknown snapshot version ${String(snap.v)}`);
    const s = new S2SStream({
      role: snap.role,
      policy: deps.policy,
      transport: deps.transport,
      now: 0,
      local: snap.local as Domain | undefined,
      remote: snap.remote as Domain | undefined,
      legacy: snap.legacy,
      ...(deps.timeouts ? { timeouts: deps.timeouts } : {}),
      ...(deps.newStreamId ? { newStreamId: deps.newStreamId } : {}),
      ...(deps.preferTls !== undefined ? { preferTls: deps.preferTls } : {}),
    });
    s.#phase = snap.phase;
    s.#streamId = snap.streamId as StreamId | undefined;
    s.#peerVersion1 = snap.peerVersion1;
    s.#peerHeaderSeen = snap.peerHeaderSeen;
    s.#headerSent = snap.headerSent;
    s.#secure = snap.secure;
    s.#peerCertificate = snap.peerCertificate;
    s.#offeredTls = snap.offeredTls;
    s.#offeredBidi = snap.offeredBidi;
    s.#peerDialbackErrors = snap.peerDialbackErrors;
    s.#bidi = snap.bidi;
    s.#scope = { ...snap.scope };
    s.#nextHandle = snap.nextHandle;
    s.#negotiationDeadline = snap.negotiationDeadline;
    const inPending = snap.inbound.filter(([, r]) => r.state === "pending").sort((a, b) => (a[1] as { deadline: number }).deadline - (b[1] as { deadline: number }).deadline);
    for (const [k, r] of snap.inbound) s.#inbound.set(k, { ...r });
    for (const [k, r] of inPending) {
      if (r.state !== "pending") continue;
      s.#inByHandle.set(r.handle, k);
      s.#inDeadlines.push(r.deadline, r.handle);
      s.#pending++;
    }
    const outPending: [string, number][] = [];
    for (const [k, r] of snap.outbound) {
      if (r.state === "keying" || r.state === "pending") {
        const queue = r.queue.map((x) => parse(x));
        s.#pending++;
        if (r.state === "pending") {
          s.#outbound.set(k, { state: "pending", deadline: r.deadline!, queue });
          outPending.push([k, r.deadline!]);
        } else s.#outbound.set(k, { state: "keying", handle: 0, queue });
      } else s.#outbound.set(k, { ...(r as Extract<OutboundPair, { state: "valid" | "failed" }>) });
    }
    for (const [k, at] of outPending.sort((a, b) => a[1] - b[1])) s.#outDeadlines.push(at, k);
    for (const v of [...snap.verifies].sort((a, b) => a.deadline - b.deadline)) {
      const ov: OutstandingVerify = { ...v, from: v.from as Domain, to: v.to as Domain };
      const k = verifyKey(ov.from, ov.to, ov.id);
      const list = s.#verifies.get(k);
      if (list) list.push(ov);
      else s.#verifies.set(k, [ov]);
      s.#verifyByHandle.set(ov.handle, ov);
      s.#verifyDeadlines.push(ov.deadline, ov.handle);
    }
    if (s.#phase.name === "open") {
      for (const [key, rec] of s.#outbound) if (rec.state === "keying") s.#requestKey(key, rec);
    }
    for (const [h, req] of snap.checks) {
      const r = { from: req.from as Domain, to: req.to as Domain, id: req.id, key: req.key };
      s.#checks.set(h, r);
      s.#emitCheck(h, r);
    }
    return s;
  }
}
