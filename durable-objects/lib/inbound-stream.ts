// One inbound S2S stream inside a StreamSession Durable Object: the engine, its SessionHost and the
// stream's own state (codec, idle clock, bidi routes, the gateway signal, the header warm-up). The
// DO hosts one of these under a direct XEP-0468 WebSocket, or many, one per channel of a gateway's
// multiplexed link (src/gateway-contract.ts; why: a DO with an accepted WebSocket costs ~610 KiB and
// ~7 ms of CPU before any XMPP, a stream beside others in one DO ~28 KiB / 0.4 ms, issue 11 item 2).
// The DO gives each stream a Port (its transport) and a Shell (what the DO shares: the delivery
// queue, the policy, the alarm); the stream's rows live in its own key space of the DO's store.

import type { Element } from "ltx";
import type { Env } from "../env.js";
import { dialbackKeys, edgeConfig } from "./config.js";
import { S2SStream, type ShellAction, type Outgoing } from "../../src/engine/index.js";
import type { StreamErrorCondition } from "../../src/errors.js";
import { asStreamId, newStreamId, type Domain } from "../../src/types.js";
import { jidDomain } from "../../src/delivery/submit.js";
import { FrameCodec } from "./codec.js";
import { impliedLocal, type ConnectionInfo } from "./connection-info.js";
import { BidiAnnouncer, trySendBidi } from "./bidi-route.js";
import { ControlReporter, type ReportCall } from "./control.js";
import { makeEffects, replyOutbound } from "./effects.js";
import { readerLimits, type LivePolicy } from "./policy-view.js";
import { SessionHost, restoreStream } from "./session-host.js";
import { describeSession, sessionInfo, type SessionMeta } from "./describe.js";
import { IdleClock, type TrafficMark } from "./idle.js";
import type { KeyValueStore } from "./store.js";
import { peerAddressStub } from "./stubs.js";
import { AuthenticatedSignal } from "./gateway-signal.js";
import { log } from "./log.js";
import { releaseLease, warmAuthority, warmTarget, type HeldLease, type AuthorityCalls } from "./verify-path.js";

/** How long a header warm-up's verification lease waits for the claim it was taken for. */
const WARM_LEASE_MS = 2_000;

/** The stream's transport: a WebSocket, or a channel of a multiplexed link. */
export interface StreamPort {
  /** Sends text (one or more RFC 7395 frames) to the peer. */
  send(text: string): void;
  /** Sends now what send() buffered, if it buffers (a gateway channel). */
  flush?(): void;
  /** Ends the transport (after what was sent). */
  close(): void;
  /** The transport can still carry data. */
  readonly open: boolean;
  /** Where the idle clock keeps the peer's last traffic across hibernation. */
  readonly traffic: TrafficMark;
}

/** What the DO shares between its streams. */
export interface StreamShell {
  readonly env: Env;
  waitUntil(p: Promise<unknown>): void;
  /** Persists a stanza for the application (the DO's DeliveryQueue). */
  accept(stanza: Element): void;
  /** The DO's next alarm may have moved: this stream's `due` changed. */
  arm(stream: InboundStream): void;
  /** The DO's policy (one subscription per DO, pushed to by the ControlPlane). */
  policy(): Promise<LivePolicy>;
  /** The stream reported `closed` (the DO forgets a channel). */
  closed?(stream: InboundStream): void;
  /** The DO's calls to the budget and the authority links, shared by its streams (lib/verify-path.ts). */
  readonly authorityCalls: AuthorityCalls;
  /** Takes the stream's ControlPlane reports into the DO's shared batch (a DO with many streams); absent: it reports itself. */
  report?(sessionId: string, calls: ReportCall[]): void;
}

export class InboundStream {
  #host: SessionHost | undefined;
  #codec: FrameCodec | undefined;
  #policy: LivePolicy | undefined;
  #idle: IdleClock | undefined;
  #engineDeadline: number | undefined;
  #bidi: BidiAnnouncer | undefined;
  /** Bidi seen on by this instance (routes for the pairs then on the stream were announced). */
  #bidiOn = false;
  /** The stream id has been used in a header (any later header needs a fresh one). */
  #idUsed = false;
  /** A new stream's engine being set up; messages wait for it. */
  #starting: Promise<void> | undefined;
  /** Messages are read one after the other (a verification awaited in one must not let the next pass). */
  #reading: Promise<void> = Promise.resolve();
  #signal: AuthenticatedSignal | undefined;
  /** The peer's first stream header has been seen (the authority link is warmed once per stream). */
  #headerSeen = false;
  /** That warm-up, resolving with its lease (a claim on this stream waits for it: lib/effects.ts). */
  #warming: Promise<HeldLease | undefined> | undefined;
  /** The warm-up's lease was taken by a claim or given back. */
  #leaseDone = false;

  private constructor(
    private readonly shell: StreamShell,
    private readonly port: StreamPort,
    private readonly store: KeyValueStore,
    readonly meta: SessionMeta,
  ) {}

  get id(): string {
    return this.meta.id;
  }

  get host(): SessionHost | undefined {
    return this.#host;
  }

  /** A new stream on a new transport (the upgrade, or a channel's `open`). */
  static open(shell: StreamShell, port: StreamPort, store: KeyValueStore, id: string, connection: ConnectionInfo): InboundStream {
    const meta: SessionMeta = { id, direction: "inbound", connection, openedAt: Date.now(), closed: false };
    store.putJson("meta", meta);
    const s = new InboundStream(shell, port, store, meta);
    // Issue 11.6: the policy read overlaps the peer's first bytes; what arrives meanwhile waits.
    s.#starting = s.#start();
    return s;
  }

  /** After hibernation or eviction: the stream rebuilt from its snapshot, or undefined (over). */
  static async restore(shell: StreamShell, port: StreamPort | undefined, store: KeyValueStore): Promise<InboundStream | undefined> {
    const meta = store.get<SessionMeta>("meta", true);
    const snap = store.get("snapshot");
    if (!meta || !snap || meta.closed) return undefined;
    const s = new InboundStream(shell, port ?? closedPort, store, meta);
    s.#idUsed = true;
    const stream = restoreStream(snap, await s.#deps(), store);
    s.#host = await s.#makeHost(stream);
    if (!port) await s.#host.input((st, now) => st.handleTransportClosed(now));
    // Carry out at once what the restored engine asks for again (key work, a verification).
    else await s.#host.input(() => {});
    return s;
  }

  async #deps() {
    const env = this.shell.env;
    const config = await edgeConfig(env);
    this.#policy ??= await this.shell.policy();
    // RFC 6120 §13.12: the policy's maxStanzaBytes knob, else MAX_STANZA_BYTES (set at stream start).
    this.#codec ??= new FrameCodec(readerLimits(config, this.#policy), this.meta.open, this.meta.connection.batched);
    const info = this.meta.connection;
    // Behind the gateway, identities from a client certificate it verified count as a valid
    // certificate for those names (XEP-0238 "trusted"); a direct wss: peer presents none.
    const names = info.certIdentities;
    return {
      policy: this.#policy,
      transport: {
        secure: info.tls !== null,
        canStartTls: false,
        ...(info.tls !== null ? { peerCertificate: { status: names.length > 0 ? ("valid" as const) : ("none" as const), names } } : {}),
        ...impliedLocal(info, config.domains),
      },
      // The first header we send carries the stream's own id (the DO's name, or the channel's); a
      // restart (RFC 6120 §6.4.6, after SASL) needs a new stream id (§4.7.3), and gets a fresh one.
      newStreamId: () => {
        if (this.#idUsed) return newStreamId();
        this.#idUsed = true;
        return asStreamId(this.meta.id);
      },
    };
  }

  async #makeHost(stream: S2SStream): Promise<SessionHost> {
    const env = this.shell.env;
    const config = await edgeConfig(env);
    const keys = dialbackKeys(config);
    const waitUntil = (p: Promise<unknown>) => this.shell.waitUntil(p);
    const control = new ControlReporter(env, this.meta.id, waitUntil, this.shell.report);
    const effects = makeEffects(env, {
      reply: (stanza) => this.reply(stanza),
      observe: (a) => this.#observe(a, control),
      verified: (seconds) => control.verificationLatency(seconds),
      accept: (stanza) => this.shell.accept(stanza),
      waitUntil,
      prepare: (actions) => this.#routesFor(actions),
      takeWarmLease: (remote) => this.#takeWarmLease(remote),
      authorityCalls: this.shell.authorityCalls,
    });
    const port = this.port;
    const signal = new AuthenticatedSignal(this.meta.connection.signalAuthenticated === true, (frame) => port.send(frame));
    this.#signal = signal;
    const link = {
      write: (out: Outgoing) => {
        const text = this.#codec!.encode(out);
        host.counters.bytesOut += text.length;
        port.send(text);
        signal.wrote(out);
      },
      flush: () => port.flush?.(),
      close: () => port.close(),
    };
    this.#idle = new IdleClock(config.idleSeconds * 1000, port.traffic, Date.now());
    const host = new SessionHost(stream, link, effects, keys, this.store, (at) => {
      this.#engineDeadline = at;
      this.shell.arm(this);
    });
    return host;
  }

  /** When this stream next needs the alarm (engine deadline, idle check); undefined: never. */
  get due(): number | undefined {
    const host = this.#host;
    if (!host || host.closed) return undefined;
    const at = Math.min(this.#engineDeadline ?? Infinity, this.#idle?.due ?? Infinity);
    return at === Infinity ? undefined : at;
  }

  #observe(a: ShellAction, control: ControlReporter): void {
    control.action(a);
    this.#signal?.observe(a);
    this.#announce(a);
    if (a.type === "pair-state" && this.#host) {
      // O(1): the whole description (every pair) after every pair change was O(pairs) per claim.
      control.session(sessionInfo(this.meta, this.#host));
    }
    if (a.type === "closed") {
      this.meta.closed = true;
      this.store.putJson("meta", this.meta);
    }
    if (a.type === "closed" || (a.type === "pair-state" && a.state === "valid")) this.#releaseSlot();
    if (a.type === "closed") this.shell.closed?.(this);
  }

  // The client address's slot for unauthenticated streams (durable-objects/peer-address.ts), given
  // back at the first verified pair or when the stream ends.
  #releaseSlot(): void {
    const slot = this.meta.connection.slot;
    if (!slot) return;
    delete this.meta.connection.slot;
    this.store.putJson("meta", this.meta);
    this.shell.waitUntil(peerAddressStub(this.shell.env, slot).release(this.meta.id).catch(() => {}));
  }

  // XEP-0288 §2: an inbound pair verified on a bidi stream lets the app's stanzas to that peer ride
  // this stream (RemoteDomain offers them via trySendBidi before dialling out). Only verified pairs
  // make routes (issue 10.3), announced before type='valid' is written so the RemoteDomain knows
  // the route before the peer can expect an answer; failed or revoked pairs and a closed stream
  // withdraw theirs.
  #routesFor(actions: readonly ShellAction[]): Promise<unknown> | undefined {
    const host = this.#host;
    if (!host?.stream.bidi) return undefined;
    let told: Promise<unknown>[] | undefined;
    for (const a of actions) {
      if (a.type === "pair-state" && a.direction === "inbound" && a.state === "valid") (told ??= []).push(this.#announcer().pairVerified(a.remote, a.local));
    }
    return told && Promise.all(told);
  }

  #announcer(): BidiAnnouncer {
    return (this.#bidi ??= new BidiAnnouncer(this.shell.env, this.meta.id, (p) => this.shell.waitUntil(p)));
  }

  #announce(a: ShellAction): void {
    if (!this.#host?.stream.bidi) return;
    if (a.type === "pair-state" && a.direction === "inbound" && a.state !== "valid" && a.state !== "pending") this.#announcer().pairGone(a.remote, a.local);
    else if (a.type === "closed") this.#announcer().closed(this.#host.stream.inboundRemotes());
  }

  /** RemoteDomain's offer of an application stanza for this peer (lib/bidi-route.ts). */
  trySendBidi(xml: string) {
    return trySendBidi(this.#host, this.port.open, xml);
  }

  /** Whether a reply to `to` may ride this stream (XEP-0288 bidi, open, the peer verified here). */
  carriesRepliesTo(to: Domain): boolean {
    const host = this.#host;
    return !!host && !host.closed && host.stream.bidi && host.stream.inboundRemotes().includes(to);
  }

  // Replies from the application to the peer: on this stream when bidi lets us, else outbound.
  // Resolves once handed on (the RemoteDomain persists it), so the queue deletes its row after.
  reply(stanza: Element): Promise<unknown> | undefined {
    const host = this.#host;
    if (host && !host.closed && host.stream.bidi && jidDomain(stanza.attrs.from) && jidDomain(stanza.attrs.to)) {
      return host.input((s, now) => s.sendStanza(stanza, now));
    }
    return replyOutbound(this.shell.env, stanza, (p) => this.shell.waitUntil(p));
  }

  /** The engine for a new stream: the policy (subscribed), the codec, the host. */
  async #start(): Promise<void> {
    try {
      const deps = await this.#deps();
      // XEP-0238 type 1 (policy knob xmppVersion "0.9"): answer as a pre-1.0 server.
      const stream = new S2SStream({ role: "receiving", ...deps, now: Date.now(), legacy: this.#policy!.legacy });
      this.#host = await this.#makeHost(stream);
      const connection = this.meta.connection;
      log(this.shell.env, "info", "stream.opened", {
        session: this.meta.id, direction: "inbound", transport: connection.transport, peer: connection.peer,
        tls: connection.tls?.version, certIdentities: connection.certIdentities.length > 0 ? connection.certIdentities : undefined,
      });
    } catch (err) {
      log(this.shell.env, "error", "stream.start-failed", { session: this.meta.id, error: err instanceof Error ? err.message : String(err) });
      this.port.close();
    }
  }

  /** Resolves once a stream opened by this instance has its engine (no-op after a restore). */
  async #started(): Promise<void> {
    if (this.#starting) await this.#starting;
  }

  /** Data from the peer (one WebSocket message, or one data message of a channel). */
  message(message: string | ArrayBuffer): Promise<void> {
    const read = this.#reading.then(() => this.#message(message));
    this.#reading = read.catch(() => {});
    return read;
  }

  async #message(message: string | ArrayBuffer): Promise<void> {
    await this.#started();
    const host = this.#host;
    if (!host) return;
    // RFC 7395 §3.5: XMPP over WebSocket uses text frames (UTF-8); binary ones are read as UTF-8
    // by the codec, strictly (invalid UTF-8 is a not-well-formed stream error).
    host.counters.bytesIn += typeof message === "string" ? message.length : message.byteLength;
    this.#idle?.traffic(Date.now());
    for (const e of this.#codec!.decode(message)) {
      const open = e.type === "open" && this.meta.open !== this.#codec!.lastOpen ? this.#codec!.lastOpen : undefined;
      await host.event(e);
      if (e.type === "open" && !this.#headerSeen) {
        this.#headerSeen = true;
        if (!host.closed) await this.#warm(e.attrs);
      }
      if (open !== undefined) {
        // Kept so the reader can be primed again after hibernation (RFC 7395 §3.4 declarations).
        // Written after the event's answer went out (issue 11.6): a write made before a send holds
        // the send until the write is committed (the output gate), and the header and features
        // need not wait for it; nothing can hibernate the DO before this event ends.
        this.meta.open = open;
        this.store.putJson("meta", this.meta);
      }
      if (!this.#bidiOn && host.stream.bidi) this.#bidiTurnedOn(host);
    }
  }

  // Issue 11.6: the sender domain's authority link is opened at the header (lib/verify-path.ts
  // warmAuthority), after our header and features went out; in the background.
  async #warm(attrs: Record<string, string>): Promise<void> {
    const policy = this.#policy;
    if (!policy) return;
    const config = await edgeConfig(this.shell.env);
    const t = warmTarget(attrs, config.domains, this.meta.connection, (remote) => policy.forRemote(remote).allowed);
    if (!t) return;
    const env = this.shell.env;
    const warming = warmAuthority(env, t.local, t.remote, this.shell.authorityCalls).catch(() => undefined);
    this.#warming = warming;
    // The lease waits for the claim a little (the peer sends db:result one round trip after our
    // features), then goes back: a header alone holds verification budget for WARM_LEASE_MS at most.
    this.shell.waitUntil(warming.then(async (held) => {
      if (!held) return;
      await new Promise((r) => setTimeout(r, WARM_LEASE_MS));
      if (this.#leaseDone) return;
      this.#leaseDone = true;
      await releaseLease(this.shell.authorityCalls, held);
    }));
  }

  async #takeWarmLease(remote: Domain): Promise<HeldLease | undefined> {
    const held = await this.#warming;
    if (!held || this.#leaseDone || held.remote !== remote) return undefined;
    this.#leaseDone = true;
    return held;
  }

  // XEP-0288 negotiated after pairs were already authenticated (SASL EXTERNAL authenticates before
  // the restart, RFC 6120 §6.4.6, and bidi comes after it): those pairs' routes are announced now.
  #bidiTurnedOn(host: SessionHost): void {
    this.#bidiOn = true;
    for (const [remote, local] of host.stream.verifiedInboundPairs()) void this.#announcer().pairVerified(remote, local);
  }

  /** The transport is gone (WebSocket closed or errored, the channel closed by the gateway). */
  async transportClosed(): Promise<void> {
    await this.#started();
    await this.#host?.input((s, now) => s.handleTransportClosed(now));
  }

  /** The DO's alarm fired: the idle limit (RFC 6120 §4.9.3.4) and the engine's deadlines. */
  async alarm(now: number): Promise<void> {
    const host = this.#host;
    if (!host) return;
    if (!host.closed && this.#idle?.expired(now)) {
      const seconds = Math.round(this.#idle.limitMs / 1000);
      await host.input((s, t) => s.close(t, "connection-timeout", `no traffic for ${seconds} seconds`));
      return;
    }
    await host.input((s) => s.handleTimeout(now));
  }

  // ---- StreamSessionRpc (lib/session-rpc.ts) for this stream ----

  async revokePair(local: string, remote: string): Promise<{ revoked: number; streamClosed: boolean }> {
    const host = this.#host;
    if (!host || host.closed) return { revoked: 0, streamClosed: false };
    const before = host.stream.validPairCount("inbound") + host.stream.validPairCount("outbound");
    await host.input((s, now) => s.revoke(local as Domain, remote as Domain, now));
    const left = host.stream.validPairCount("inbound") + host.stream.validPairCount("outbound");
    let streamClosed = false;
    if (left === 0 && !host.closed) {
      await host.input((s, now) => s.close(now, "policy-violation", "no domain pair left on this stream"));
      streamClosed = true;
    }
    return { revoked: before - left, streamClosed };
  }

  async closeStream(condition: StreamErrorCondition, text?: string): Promise<void> {
    await this.#host?.input((s, now) => s.close(now, condition, text));
  }

  describe() {
    return this.#host && !this.#host.closed ? describeSession(this.meta, this.#host) : null;
  }

  /** Over: closed, or its engine never came up. */
  get over(): boolean {
    return this.meta.closed || this.#host?.closed === true;
  }
}

/** The port of a stream restored without its transport (it is closed at once). */
const closedPort: StreamPort = {
  send: () => {},
  close: () => {},
  open: false,
  traffic: { load: () => undefined, save: () => {} },
};
