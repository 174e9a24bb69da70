// An outbound stream, as a RemoteDomain (stanzas to a domain) or an AuthorityLink (db:verify to an
// authority address) owns it: resolve (static route, DoH SRV) unless given targets, connect() to the
// first target that answers, run the engine as initiating server (STARTTLS when offered, restart,
// bidi when offered, then dialback per pair), and carry db:verify requests.
// Time limits: connect (per target), negotiation/dialback/verify (engine deadlines), idle, and a
// recycle before the platform's 15-minute socket limit; each ends in a defined outcome.

import type { Element } from "ltx";
import { StanzaError, bounce, type StreamErrorCondition } from "../../src/errors.js";
import type { EdgeConfig } from "../../src/config.js";
import { dialbackKeys } from "./config.js";
import { splitPairKey } from "../../src/dialback/pairs.js";
import { S2SStream, type ShellAction, type StreamSnapshot, type TlsInfo, type VerifyOutcome } from "../../src/engine/index.js";
import type { Domain } from "../../src/types.js";
import type { Env } from "../env.js";
import { ControlReporter } from "./control.js";
import { describeSession, sessionInfo, type SessionMeta } from "./describe.js";
import { makeEffects } from "./effects.js";
import { LivePolicy, readerLimits } from "./policy-view.js";
import { inboundRowKey, parseXml, SessionHost } from "./session-host.js";
import type { KeyValueStore } from "./store.js";
import { dial } from "./dial.js";
import { log } from "./log.js";
import { describeSocketError } from "../../src/log/socket-error.js";
import type { OutboundLink } from "./tcp-link.js";
import { EgressLink, tlsInfoOf } from "./egress-link.js";
import type { Target } from "../../src/resolve/resolver.js";

/** Close an outbound stream with no traffic for this long (RFC 6120 §4.6.2 leaves it to policy). */
export const IDLE_MS = 10 * 60_000;
/** Reopen before the platform's 15-minute limit on a DO kept alive by an open socket. */
export const RECYCLE_MS = 14 * 60_000;

export interface OutboundDeps {
  env: Env;
  ctx: DurableObjectState;
  store: KeyValueStore;
  remote: Domain;
  /** Persists a stanza for the application (the RemoteDomain's delivery queue, lib/delivery-queue.ts). */
  accept(stanza: Element): void;
  /** An earlier alarm someone else in the DO needs (the delivery queue's retry), merged into ours. */
  alarmFloor?(): number | undefined;
  /**
   * When given, the stream never touches the DO's single alarm itself: it reports when it wants to
   * be woken (undefined: not any more) and the owner merges that with its other needs.
   */
  arm?(at: number | undefined): void;
  /** Storage-key prefix for this stream's snapshot (a second stream in the same DO needs its own). */
  keyPrefix?: string;
  /** The session id reported to the ControlPlane instead of "remote:<domain>" (an authority link). */
  sessionId?: string;
  /** Targets already resolved (an authority link is keyed by them); else `remote` is resolved. */
  targets?: Target[];
  /** Connected to `target` (after the stream header went out). */
  connected?(target: Target): void;
  /** The stream ended (its `closed` action). */
  ended?(): void;
}

type Failure = { condition: "remote-server-not-found" | "remote-connection-failed"; detail: string };

export class OutboundStream {
  ended = false;
  #host: SessionHost | undefined;
  #link: OutboundLink | undefined;
  #failure: Failure | undefined;
  #ready: Promise<void>;
  #fellBack = false;
  /** S2S_EGRESS=auto: this stream already moved to the gateway after connect()'s TLS failed. */
  #viaGateway = false;
  #tlsLogged: Error | undefined;
  readonly #waiters = new Map<number, (o: VerifyOutcome) => void>();
  #meta: SessionMeta;
  #lastActivity = Date.now();
  #connectedAt = 0;
  #engineDeadline: number | undefined;
  readonly #control: ControlReporter;
  #policy: LivePolicy | undefined;

  constructor(
    private readonly deps: OutboundDeps,
    private readonly local: Domain,
    private readonly config: EdgeConfig,
  ) {
    this.#meta = {
      id: deps.sessionId ?? `remote:${deps.remote}`, direction: "outbound", openedAt: Date.now(), closed: false,
      connection: { transport: "websocket", peer: undefined, tls: null, certIdentities: [] },
    };
    this.#control = new ControlReporter(deps.env, this.#meta.id, (p) => deps.ctx.waitUntil(p));
    this.#ready = this.#connect();
  }

  /** Queued stanzas of a stream that died with its DO (eviction): to be sent again. */
  static orphanedQueue(store: KeyValueStore, keyPrefix = ""): { local: string; xml: string }[] {
    const snap = store.get<StreamSnapshot>(`${keyPrefix}snapshot`, true);
    forget(store, `${keyPrefix}snapshot`);
    if (!snap || snap.phase.name === "closed") return [];
    const out: { local: string; xml: string }[] = [];
    for (const [key, rec] of snap.outbound) {
      if (rec.state === "keying" || rec.state === "pending") for (const xml of rec.queue) out.push({ local: splitPairKey(key)[0], xml });
    }
    return out;
  }

  get #snapshotKey(): string {
    return `${this.deps.keyPrefix ?? ""}snapshot`;
  }

  /** The domain this stream's header names. */
  get remote(): Domain {
    return this.deps.remote;
  }

  /** The peer advertised dialback errors (XEP-0220 §2.4) in its stream features. */
  get dialbackErrors(): boolean {
    return this.#host?.stream.peerDialbackErrors ?? false;
  }

  /** Connected to the peer: a remote-server-not-found from the stream then is the peer's host-unknown. */
  get reached(): boolean {
    return this.#host !== undefined && this.#failure === undefined;
  }

  /** True when `id` is this stream's id: a key that arrived here must be verified elsewhere (XEP-0220 §4). */
  carries(id: string): boolean {
    return !this.ended && this.#host?.stream.streamId === id;
  }

  async #connect(preferTls = true, via?: "connect" | "gateway"): Promise<void> {
    const { env, store, remote } = this.deps;
    const policy = new LivePolicy(env, this.config);
    // The policy read (a ControlPlane round trip) overlaps the connect instead of preceding it (issue
    // 11.6: it was 20-170 ms of every new outbound stream here). Nothing needs it before the engine
    // starts: resolving and connecting do not depend on it (the engine judges the pair), and the
    // reader's limits are applied before the first byte is read.
    const refreshed = policy.refresh();
    const dialPolicy = () =>
      refreshed.then(() => {
        const pol = policy.forRemote(remote);
        // Self-signed accepted through the gateway only where policy does not ask for "trusted".
        return { plaintextOnly: policy.legacy, acceptUntrusted: pol.allowed && pol.minLevel !== "trusted" };
      });
    const [, dialled] = await Promise.all([
      refreshed,
      dial(env, store, this.config, remote, { ...(this.deps.targets ? { targets: this.deps.targets } : {}), policy: dialPolicy, from: this.local, ...(via ? { via } : {}) }),
    ]);
    if (!dialled.ok) return this.#fail({ condition: dialled.condition, detail: dialled.detail });
    // XEP-0238 type 1 (policy knob xmppVersion "0.9"): a pre-1.0 stream, no TLS of any kind.
    const legacy = policy.legacy;
    dialled.link.setLimits(readerLimits(this.config, policy));
    this.#link = dialled.link;
    this.#connectedAt = Date.now();
    this.#meta.connection = { transport: "websocket", peer: `${this.#link.target.host}:${this.#link.target.port}`, tls: this.#link.target.directTls ? { version: "TLS" } : null, certIdentities: [] };
    const direct = this.#link.target.directTls;
    this.#control.opened({
      direction: "outbound", local: this.local, remote, peer: this.#meta.connection.peer,
      tls: direct ? "direct" : "none", source: this.#link.target.source,
    });
    const link0 = this.#link;
    // connect() verifies certificates against public roots, so direct TLS there means a CA-valid
    // peer; through the gateway, the gateway says what it verified (RFC 6125 against the domain).
    const directCert = link0 instanceof EgressLink ? tlsInfoOf(link0.facts) : { peerCertificate: { status: "valid" as const, names: [remote] } };
    this.#policy = policy;
    const stream = new S2SStream({
      role: "initiating", local: this.local, remote, policy: this.#policy, now: Date.now(), preferTls: preferTls && !legacy, legacy,
      transport: { secure: direct, canStartTls: !direct && !legacy, ...(direct ? directCert : {}) },
    });
    const link = this.#link;
    const linkForHost = { write: link.write.bind(link), flush: () => link.flush?.(), close: link.close.bind(link), startTls: () => this.#startTls(link) };
    const effects = makeEffects(env, {
      reply: (stanza) => void this.#host?.input((s, now) => s.sendStanza(stanza, now)),
      observe: (a) => this.#observe(a),
      accept: this.deps.accept,
      waitUntil: (p) => this.deps.ctx.waitUntil(p),
    });
    const keys = dialbackKeys(this.config);
    this.#host = new SessionHost(stream, linkForHost, effects, keys, store, (at) => {
      this.#engineDeadline = at;
      this.#arm();
    }, Date.now, this.#snapshotKey);
    const host = this.#host;
    await host.input((s, now) => s.start(now));
    // After the header went out (see DialResult.record).
    dialled.record();
    // After the header left, too: the notice is an RPC to the address's AuthorityLink, often a DO
    // that does not exist yet; creating it held this stream's first write ~5 ms (issue 11.6). It is
    // needed only when the peer dials back, a round trip after our db:result at the earliest.
    const connected = this.deps.connected;
    if (connected) setTimeout(() => connected(dialled.link.target), 0);
    // The read loop lives as long as the socket (an open socket keeps the DO up, at most 15 minutes:
    // RECYCLE_MS closes it first); if the DO dies anyway, its constructor requeues and reconnects.
    void link
      .run((e) => {
        this.#lastActivity = Date.now();
        return host.event(e);
      })
      .then(() => {
        // This link's stream only: after a plaintext fallback a newer one may be running.
        if (host.abandoned) return;
        const tlsFailure = link.tlsFailure;
        if (tlsFailure && this.#tlsFailed(tlsFailure)) return;
        // A TLS failure policy does not let us work around bounces with policy-violation (issue 12).
        if (tlsFailure) return host.input((s, now) => s.handleTlsFailed(now, tlsFailure.message));
        return host.input((s, now) => s.handleTransportClosed(now));
      });
  }

  /**
   * STARTTLS, with the platform's constraint in mind: connect() accepts only certificates that chain
   * to public roots. When that fails and policy for this peer is "verified" (dialback without TLS is
   * acceptable, XEP-0238), reconnect once in plaintext, carrying over what was queued and pending;
   * otherwise the stream fails (bounces say policy-violation, the log and the audit say why).
   */
  #startTls(link: OutboundLink): Promise<TlsInfo | void> {
    return link.startTls().catch((err: Error) => {
      if (!this.#tlsFailed(err)) throw err;
      return new Promise<void>(() => {}); // the old stream never resumes
    });
  }

  /**
   * True when the stream was started again elsewhere (the old one is abandoned without bounces):
   * S2S_EGRESS=auto moves to the gateway once, which can accept what connect() cannot (issue 12);
   * else policy "verified" reconnects once in plaintext.
   */
  #tlsFailed(err: Error): boolean {
    const pol = this.#policy?.forRemote(this.deps.remote);
    const via = this.#link?.via ?? "connect";
    const fields = { session: this.#meta.id, remote: this.deps.remote, via, ...describeSocketError(err, "tls", this.#link ? `${this.#link.target.host}:${this.#link.target.port}` : undefined) };
    if (via === "connect" && this.config.egress.mode === "auto" && !this.#viaGateway && pol?.allowed) {
      log(this.deps.env, "warn", "tls.failed", { ...fields, outcome: "S2S_EGRESS=auto: dialling through the gateway" });
      this.#viaGateway = true;
      this.#restart(true, "gateway");
      return true;
    }
    if (this.#fellBack || !pol?.allowed || pol.minLevel !== "verified") {
      // The same failure reaches here from the upgrade and from the read loop: one line.
      if (this.#tlsLogged !== err) log(this.deps.env, "warn", "tls.failed", { ...fields, outcome: "policy requires encryption: giving up" });
      this.#tlsLogged = err;
      return false;
    }
    log(this.deps.env, "warn", "tls.failed", { ...fields, outcome: "policy allows dialback without TLS: reconnecting in plaintext" });
    this.#fellBack = true;
    this.#restart(false, this.#viaGateway ? "gateway" : undefined);
    return true;
  }

  /** A new connection for this stream, carrying over what was queued and pending on the old one. */
  #restart(preferTls: boolean, via: "connect" | "gateway" | undefined): void {
    const old = this.#host!;
    const snap = old.stream.snapshot();
    old.abandoned = true; // nothing more from it, no bounces: its work moves to the new stream
    const waiters = new Map(this.#waiters);
    this.#waiters.clear();
    this.#ready = this.#connect(preferTls, via).then(() => {
      for (const [, rec] of snap.outbound) {
        if (rec.state === "keying" || rec.state === "pending") for (const xml of rec.queue) void this.send(parseXml(xml));
      }
      for (const v of snap.verifies) {
        const resolve = waiters.get(v.handle);
        if (resolve) void this.verify({ from: v.from as Domain, to: v.to as Domain, id: v.id, key: v.key }).then(resolve);
      }
    });
  }

  #fail(f: Failure): void {
    this.#failure = f;
    this.ended = true;
    this.#control.action({ type: "closed", by: "transport" }, { reason: f.detail, condition: f.condition, remote: this.deps.remote });
  }

  #observe(a: ShellAction): void {
    this.#control.action(a);
    if (a.type === "pair-state" && this.#host) {
      if (!this.ended) this.#control.session(this.#info());
    }
    if (a.type === "verify-result") {
      this.#waiters.get(a.handle)?.(a.outcome);
      this.#waiters.delete(a.handle);
    } else if (a.type === "closed") {
      this.ended = true;
      this.#meta.closed = true;
      forget(this.deps.store, this.#snapshotKey);
      if (this.deps.arm) this.deps.arm(undefined);
      else void this.deps.ctx.storage.deleteAlarm();
      this.deps.ended?.();
    }
  }

  #arm(): void {
    if (this.ended) return;
    const idle = this.#lastActivity + IDLE_MS;
    const recycle = this.#connectedAt + RECYCLE_MS;
    const at = Math.min(this.#engineDeadline ?? Infinity, idle, recycle, this.deps.alarmFloor?.() ?? Infinity);
    if (this.deps.arm) this.deps.arm(at);
    else void this.deps.ctx.storage.setAlarm(at);
  }

  /** Waits for the current connection attempt, including one a plaintext fallback started meanwhile. */
  async #settled(): Promise<void> {
    let ready: Promise<void>;
    do {
      ready = this.#ready;
      await ready;
    } while (ready !== this.#ready);
  }

  async send(stanza: Element): Promise<void> {
    const local = (stanza.attrs.from as string).split("/")[0]!.split("@").pop()!.toLowerCase() as Domain;
    // Retried when a plaintext fallback replaces the stream meanwhile: the stanza goes to the new one.
    for (;;) {
      await this.#settled();
      this.#lastActivity = Date.now();
      const host = this.#host;
      if (this.#failure || !host) {
        // The bounce table: no route or no connection -> remote-server-not-found.
        const reply = bounce(stanza, new StanzaError("remote-server-not-found", this.#failure?.detail));
        if (reply) makeEffects(this.deps.env, { reply: () => {}, observe: () => {}, accept: this.deps.accept }).bounce(reply, "remote-server-not-found");
        this.#control.action({ type: "bounce", stanza: reply ?? stanza, condition: "remote-server-not-found" });
        return;
      }
      // A pair not yet valid will be judged by policy: read the current one first (issue 5).
      if (host.stream.pairState("outbound", local, this.deps.remote) !== "valid") await this.#policy?.refresh();
      if (await host.tryInput((s, now) => s.sendStanza(stanza, now))) return;
    }
  }

  async verify(req: { from: Domain; to: Domain; id: string; key: string }): Promise<VerifyOutcome> {
    await this.#settled();
    this.#lastActivity = Date.now();
    const host = this.#host;
    if (this.#failure || !host) return { type: "error", condition: this.#failure?.condition ?? "remote-connection-failed" };
    return new Promise<VerifyOutcome>((resolve) => {
      void host
        .tryInput((s, now) => {
          try {
            this.#waiters.set(s.requestVerify(req, now), resolve);
          } catch {
            // XEP-0220 §4: never on the stream the key arrived on; nothing else to ask.
            resolve({ type: "error", condition: "remote-connection-failed" });
          }
        })
        // Replaced by a plaintext fallback before it ran: ask on the new stream.
        .then((ran) => (ran ? undefined : this.verify(req).then(resolve)));
    });
  }

  /** The alarm: engine deadlines, idle and recycle, judged at `now` (tests pass a later time). */
  async timeout(now = Date.now()): Promise<void> {
    const host = this.#host;
    if (!host || this.ended) return;
    if (now >= this.#connectedAt + RECYCLE_MS || now >= this.#lastActivity + IDLE_MS) {
      // Clean close: RFC 6120 §4.4; the next send opens a new stream (pairs re-authenticate).
      await host.input((s, t) => s.close(t));
      return;
    }
    await host.input((s) => s.handleTimeout(now));
  }

  async revokePair(local: Domain, remote: Domain): Promise<{ revoked: number; streamClosed: boolean }> {
    const host = this.#host;
    if (!host || this.ended) return { revoked: 0, streamClosed: false };
    const count = () => host.stream.validPairCount("inbound") + host.stream.validPairCount("outbound");
    const before = count();
    await host.input((s, now) => s.revoke(local, remote, now));
    if (count() === 0 && !host.closed) {
      await host.input((s, now) => s.close(now, "policy-violation", "no domain pair left on this stream"));
      return { revoked: before, streamClosed: true };
    }
    return { revoked: before - count(), streamClosed: false };
  }

  async close(condition: StreamErrorCondition, text?: string): Promise<void> {
    await this.#host?.input((s, now) => s.close(now, condition, text));
  }

  describe() {
    if (!this.#host || this.ended) return null;
    const d = describeSession(this.#meta, this.#host);
    return { ...d, transport: "tcp" as const, bytesIn: this.#link?.bytesIn ?? 0, bytesOut: this.#link?.bytesOut ?? 0 };
  }

  /** describe() without the pairs, in O(1) (reported after every pair change). */
  #info() {
    return { ...sessionInfo(this.#meta, this.#host!), transport: "tcp" as const, bytesIn: this.#link?.bytesIn ?? 0, bytesOut: this.#link?.bytesOut ?? 0 };
  }
}

/** Deletes a stream's snapshot and its inbound pair rows (SessionHost#save). */
function forget(store: KeyValueStore, snapshotKey: string): void {
  store.delete(snapshotKey);
  for (const [k] of store.entries(inboundRowKey(snapshotKey, ""))) store.delete(k);
}
