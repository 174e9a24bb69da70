// One RFC 6120 server-to-server stream, sans-I/O: Server Dialback (XEP-0220) in all three roles,
// multiplexing of domain pairs, dialback errors and bidirectional streams (XEP-0288).
//
// Inputs are `handle*` methods (peer header, element, close, transport gone, TLS up, verification
// results from an authority, key work results, timeouts); commands are `start`, `authenticate`,
// `sendStanza`, `requestVerify`, `revoke`, `close`; outputs come from `pollAction()` and
// `pollTimeout()`. Time is always a parameter. This class is the facade: the state is plain data
// (./context.ts), the stream phases and their transitions are in ./phase.ts, and each role lives in
// its own module (negotiation, receiving, originating, verification, timers, ending, hibernation).
// See src/engine/index.ts for how a shell drives it.

import type { Element } from "ltx";
import { StreamError, type StreamErrorCondition } from "../errors.js";
import { newStreamId as mintStreamId, type Domain, type StreamId } from "../types.js";
import type { Action, PairDirection, VerifyOutcome } from "../engine/actions.js";
import type { PolicyView, TlsInfo, TransportInfo } from "../engine/ports.js";
import type { StreamSnapshot } from "../engine/snapshot.js";
import { namespaceOf, readDialback, splitName, type DialbackElement } from "../dialback/elements.js";
import { NS_BIDI, NS_DIALBACK, NS_SASL, NS_SERVER, NS_STREAM, NS_TLS } from "../xml/namespaces.js";
import { onSasl } from "./sasl.js";
import { onSaslResponse } from "./sasl-initiator.js";
import { pairKey, splitPairKey } from "../dialback/pairs.js";
import { audit, DEFAULT_TIMEOUTS, newCtx, pairCount, sendClose, type Ctx, type StreamTimeouts } from "./context.js";
import { fail, finish } from "./ending.js";
import { inboundChanges, snapshot, restoreInto } from "./hibernation.js";
import { settleUnpaired } from "./unpaired.js";
import { onBidiRequest, onFeatures, onHeader, onPeerStreamError, onTls, onTlsEstablished, open, sendOurInitiatingHeader, start } from "./negotiation.js";
import { authenticate, keyGenerated, onResultResponse, revoke, sendStanza } from "./originating.js";
import { onResultRequest, onStanza, verifyResult } from "./receiving.js";
import { nextDeadline, onTimeout } from "./timers.js";
import { keyChecked, onVerifyRequest, onVerifyResponse, requestVerify } from "./verification.js";
import { EngineUsageError, type Phase, type StreamRole } from "./phase.js";

export { DEFAULT_TIMEOUTS, type StreamTimeouts };

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

export class S2SStream {
  readonly #c: Ctx;

  constructor(opts: S2SStreamOptions) {
    if (opts.role === "initiating" && (!opts.local || !opts.remote)) {
      throw new EngineUsageError("an initiating stream needs local and remote domains");
    }
    this.#c = newCtx({
      role: opts.role,
      policy: opts.policy,
      transport: opts.transport,
      timeouts: { ...DEFAULT_TIMEOUTS, ...opts.timeouts },
      mintId: opts.newStreamId ?? mintStreamId,
      legacy: opts.legacy ?? false,
      preferTls: opts.preferTls ?? true,
    });
    this.#c.local = opts.local;
    this.#c.remote = opts.remote;
    this.#c.negotiationDeadline = opts.now + this.#c.timeouts.negotiation;
  }

  // ---------------------------------------------------------------- getters

  get role(): StreamRole {
    return this.#c.role;
  }
  get phase(): Phase["name"] {
    return this.#c.phase.name;
  }
  /** The id dialback keys on this stream are bound to (ours when receiving, the peer's when initiating). */
  get streamId(): StreamId | undefined {
    return this.#c.streamId;
  }
  get local(): Domain | undefined {
    return this.#c.local;
  }
  get remote(): Domain | undefined {
    return this.#c.remote;
  }
  get bidi(): boolean {
    return this.#c.bidi;
  }
  get secure(): boolean {
    return this.#c.secure;
  }
  /** XEP-0220 §3.2: whether the peer handles dialback errors (target multiplexing wants it). */
  get peerDialbackErrors(): boolean {
    return this.#c.peerDialbackErrors;
  }
  /**
   * Changes whenever `snapshot()` would: a shell saves the snapshot only when this differs from
   * the value at its last save, so delivering stanzas on 10,000 verified pairs costs no
   * re-serialisation. Restarts from 0 after `restore()`.
   */
  get revision(): number {
    return this.#c.out.stateful + this.#c.quietChanges;
  }
  /** Dialback requests (both directions) awaiting an answer. */
  get pendingCount(): number {
    return this.#c.pending;
  }
  /** State of a pair: "none" when unknown or failed. */
  pairState(direction: PairDirection, local: Domain, remote: Domain): "none" | "pending" | "valid" | "failed" {
    if (direction === "inbound") return this.#c.inbound.get(pairKey(remote, local))?.state ?? "none";
    const r = this.#c.outbound.get(pairKey(local, remote));
    if (!r) return "none";
    return r.state === "keying" ? "pending" : r.state;
  }
  /** Remote domains with an inbound pair pending or verified here (O(pairs): not for hot paths). */
  inboundRemotes(): Domain[] {
    const out = new Set<Domain>();
    for (const key of this.#c.inbound.keys()) out.add(splitPairKey(key)[0] as Domain);
    return [...out];
  }
  /** Inbound pairs verified here, as (remote, local) (O(pairs): not for hot paths). */
  verifiedInboundPairs(): [remote: Domain, local: Domain][] {
    const out: [Domain, Domain][] = [];
    for (const [key, rec] of this.#c.inbound) if (rec.state === "valid") out.push(splitPairKey(key));
    return out;
  }
  /** Pairs this stream carries, pending or verified, both directions: what maxPairsPerStream caps. O(1). */
  get pairCount(): number {
    return pairCount(this.#c);
  }
  /** Number of verified pairs per direction (O(pairs): for tests and metrics, not hot paths). */
  validPairCount(direction: PairDirection): number {
    let n = 0;
    for (const r of (direction === "inbound" ? this.#c.inbound : this.#c.outbound).values()) if (r.state === "valid") n++;
    return n;
  }

  // ---------------------------------------------------------------- outputs

  pollAction(): Action | undefined {
    return this.#c.out.poll();
  }
  /** All queued actions, in order. */
  drainActions(): Action[] {
    return this.#c.out.drain();
  }
  /** The next deadline (ms) at which `handleTimeout` must be called, or undefined. */
  pollTimeout(): number | undefined {
    return nextDeadline(this.#c);
  }

  // ---------------------------------------------------------------- commands

  /** Initiating role: send our stream header (RFC 6120 §4.7). */
  start(now: number): void {
    start(this.#c, now);
  }
  /**
   * Originating role, XEP-0220 §2.1.1: authenticate `local` -> `remote` on this stream (sender and
   * target multiplexing). Initiating streams, and receiving streams once XEP-0288 bidi is on.
   */
  authenticate(local: Domain, remote: Domain, now: number): void {
    authenticate(this.#c, local, remote, now);
  }
  /**
   * Route a stanza from a local sender to the peer: sent at once on a verified pair (or, with
   * bidi, the inverse of a pair the peer verified), else queued behind dialback (started if
   * needed), or bounced (closed stream, full queue, policy).
   */
  sendStanza(stanza: Element, now: number): void {
    sendStanza(this.#c, stanza, now);
  }
  /**
   * Use this stream to reach an Authoritative Server (XEP-0220 §2.1.2 step 2): sends db:verify
   * once the stream is open; the answer comes as a `verify-result` action with the returned handle.
   */
  requestVerify(req: { from: Domain; to: Domain; id: string; key: string }, now: number): number {
    return requestVerify(this.#c, req, now);
  }
  /** Withdraw a pair (e.g. policy changed): both directions; later stanzas on it are refused. */
  revoke(local: Domain, remote: Domain, now: number): void {
    revoke(this.#c, local, remote, now);
    settleUnpaired(this.#c, now);
  }
  /** End the stream: with a stream error when `condition` is given (RFC 6120 §4.9), else cleanly. */
  close(_now: number, condition?: StreamErrorCondition, text?: string): void {
    if (this.#c.phase.name === "closed") return;
    if (condition) return fail(this.#c, new StreamError(condition, text));
    sendClose(this.#c);
    finish(this.#c, "us");
  }

  // ---------------------------------------------------------------- inputs

  /** The peer's stream header (`<stream:stream ...>` attributes, namespace declarations included). */
  handleOpen(attrs: Record<string, string>, now: number): void {
    onHeader(this.#c, attrs, now);
  }

  /** One top-level element from the peer: dispatched by namespace and name. */
  handleElement(el: Element, now: number): void {
    this.#element(el, now);
    settleUnpaired(this.#c, now);
  }

  #element(el: Element, now: number): void {
    const c = this.#c;
    const phase = c.phase.name;
    if (phase === "closed") return;
    if (phase === "idle" || phase === "awaiting-header" || phase === "tls") {
      return fail(c, new StreamError("not-authorized", "element before the stream header"));
    }
    const ns = namespaceOf(el, c.scope);
    const { local } = splitName(el.name);
    if (ns === NS_STREAM && local === "error") return onPeerStreamError(c, el);
    if (ns === NS_STREAM && local === "features") return onFeatures(c, el, now);
    if (ns === NS_TLS) return onTls(c, local);
    // XEP-0178 as initiator: the answer to our <auth/> comes before the stream is open.
    if (ns === NS_SASL && c.role === "initiating" && c.sasl === "requested") return onSaslResponse(c, local, now, () => open(c, now), () => sendOurInitiatingHeader(c));
    if (phase !== "open") {
      return fail(c, new StreamError("not-authorized", `<${el.name}/> before stream negotiation finished`));
    }
    if (ns === NS_BIDI && local === "bidi") return onBidiRequest(c);
    if (ns === NS_SASL) return onSasl(c, el, local, now);
    if (ns === NS_DIALBACK && (local === "result" || local === "verify")) return this.#onDialback(readDialback(el, local), now);
    if (ns === NS_SERVER && STANZAS.has(local)) return onStanza(c, el);
    // RFC 6120 §4.9.3.24: a first-level element we do not support (including <bidi/> in the
    // feature namespace used as a request: XEP-0288 §2.2 wants 'urn:xmpp:bidi').
    fail(c, new StreamError("unsupported-stanza-type", `<${el.name} xmlns='${ns}'/>`));
  }

  // XEP-0220 §2: a request has no 'type'; a response has one and must answer a request of ours.
  #onDialback(db: DialbackElement, now: number): void {
    const c = this.#c;
    if (db.type === "bogus") return fail(c, new StreamError("bad-format", "unknown dialback type"));
    if (db.kind === "result") {
      if (db.type === undefined) onResultRequest(c, db, now);
      else onResultResponse(c, db);
    } else if (db.type === undefined) onVerifyRequest(c, db);
    else onVerifyResponse(c, db);
  }

  /** The peer closed its stream (`</stream:stream>`): we close ours. */
  handleClose(_now: number): void {
    if (this.#c.phase.name === "closed") return;
    sendClose(this.#c);
    finish(this.#c, "peer");
  }

  /** The transport is gone (socket closed, TLS failed, connect failed). */
  handleTransportClosed(_now: number): void {
    if (this.#c.phase.name === "closed") return;
    finish(this.#c, "transport");
  }

  /**
   * The TLS handshake failed (STARTTLS or direct TLS: the peer's certificate is not acceptable, or
   * the handshake broke) and the shell will not work around it (no plaintext retry, no other path).
   * Queued stanzas bounce with policy-violation (RFC 6120 §8.3.3.12: our policy, TLS for this peer,
   * cannot be met), never remote-server-timeout: nothing timed out (issue 12).
   */
  handleTlsFailed(_now: number, detail: string): void {
    const c = this.#c;
    if (c.phase.name === "closed") return;
    audit(c, "policy-refusal", `TLS with ${c.remote ?? "the peer"} failed: ${detail}`, c.local, c.remote);
    finish(c, "transport", undefined, "policy-violation");
  }

  /** STARTTLS completed (RFC 6120 §5.4.3.3): the stream restarts over TLS. */
  handleTlsEstablished(info: TlsInfo, now: number): void {
    onTlsEstablished(this.#c, info, now);
  }

  /** Answer to a `verify` action (receiving role, XEP-0220 §2.1.2 step 3 -> step 4). */
  handleVerifyResult(handle: number, outcome: VerifyOutcome, now: number): void {
    verifyResult(this.#c, handle, outcome, now);
    settleUnpaired(this.#c, now);
  }

  /** Result of a `key`/"generate" action (originating role). */
  handleKeyGenerated(handle: number, key: string, now: number): void {
    keyGenerated(this.#c, handle, key, now);
  }

  /** Result of a `key`/"check" action (authoritative role, XEP-0220 §2.2.2). */
  handleKeyChecked(handle: number, valid: boolean, now: number): void {
    keyChecked(this.#c, handle, valid, now);
  }

  /** Call at (or after) `pollTimeout()`. */
  handleTimeout(now: number): void {
    onTimeout(this.#c, now);
    settleUnpaired(this.#c, now);
  }

  // ---------------------------------------------------------------- hibernation

  /** JSON-serialisable state; take it after draining `pollAction()`. */
  snapshot(): StreamSnapshot {
    return snapshot(this.#c);
  }

  /**
   * The same in parts, for a shell that saves each inbound pair as its own row: `head` is the
   * snapshot without inbound pairs (small, whatever the number of pairs), `inbound` the pairs set
   * ([key, rec]) or removed ([key, null]) since the last call (every pair at the first call). Saving
   * both after each change costs O(what changed), not O(pairs) (issue 10 item 4). To restore, put
   * the saved rows back into `head.inbound`.
   */
  snapshotParts(): { head: StreamSnapshot; inbound: [key: string, rec: StreamSnapshot["inbound"][number][1] | null][] } {
    return { head: snapshot(this.#c, false), inbound: inboundChanges(this.#c) };
  }

  /** The inbound pairs as they are now are saved (restored from rows): snapshotParts() reports later changes only. */
  markInboundSaved(): void {
    this.#c.inbound.takeChanges();
  }

  /**
   * Rebuild a stream from `snapshot()`. Key work that was in flight is requested again: poll the
   * actions after restoring.
   */
  static restore(
    snap: StreamSnapshot,
    deps: { policy: PolicyView; transport: TransportInfo; timeouts?: Partial<StreamTimeouts>; newStreamId?: () => StreamId; preferTls?: boolean },
  ): S2SStream {
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
    restoreInto(s.#c, snap);
    return s;
  }
}
