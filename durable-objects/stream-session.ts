// One inbound S2S stream over WebSocket (XEP-0468): from a peer directly or from the TCP ingress
// gateway. Accepted with the Hibernation API; the engine's snapshot lives in SQLite, so the peer
// sees no difference when the DO hibernates or is evicted. Named by the stream id we send.

import { DurableObject } from "cloudflare:workers";
import type { Element } from "ltx";
import type { Env } from "./env.js";
import { edgeConfig } from "./lib/config.js";
import { DialbackKeys } from "../src/dialback/keys.js";
import { S2SStream, type ShellAction } from "../src/engine/index.js";
import type { StreamErrorCondition } from "../src/errors.js";
import { asStreamId, newStreamId, type Domain } from "../src/types.js";
import { jidDomain } from "../src/delivery/submit.js";
import { FrameCodec } from "./lib/codec.js";
import type { Outgoing } from "../src/engine/index.js";
import { FRAMING_HEADER, STREAM_ID_HEADER, TRUSTED_CONNECTION_HEADER, impliedLocal, type ConnectionInfo } from "./lib/connection-info.js";
import { BidiAnnouncer, trySendBidi } from "./lib/bidi-route.js";
import { ControlReporter } from "./lib/control.js";
import { makeEffects, sendOutbound } from "./lib/effects.js";
import { LivePolicy, readerLimits } from "./lib/policy-view.js";
import { SessionHost, restoreStream } from "./lib/session-host.js";
import { describeSession, sessionInfo, type SessionMeta } from "./lib/describe.js";
import { IdleClock } from "./lib/idle.js";
import { SessionStore } from "./lib/store.js";
import { peerAddressStub } from "./lib/stubs.js";
import { DeliveryQueue } from "./lib/delivery-queue.js";
import { deliverBatchToApp } from "./lib/deliver.js";
import { AuthenticatedSignal } from "./lib/gateway-signal.js";
import { log } from "./lib/log.js";
import { warmAuthority, warmTarget } from "./lib/verify-path.js";
import type { PolicySnapshot } from "./lib/session-rpc.js";

export class StreamSession extends DurableObject<Env> {
  readonly #store: SessionStore;
  #host: SessionHost | undefined;
  #meta: SessionMeta | undefined;
  #codec: FrameCodec | undefined;
  #policy: LivePolicy | undefined;
  #idle: IdleClock | undefined;
  #engineDeadline: number | undefined;
  /** The alarm time last set (undefined: none set by this instance), so unchanged ones cost nothing. */
  #armed: number | undefined;
  #bidi: BidiAnnouncer | undefined;
  /** Bidi seen on by this instance (routes for the pairs then on the stream were announced). */
  #bidiOn = false;
  /** The DO's name has been used as a stream id (any later header needs a fresh one). */
  #idUsed = false;
  /** Stanzas for the application, persisted until delivered or bounced (at-least-once). */
  readonly #queue: DeliveryQueue;
  /** A new stream's engine being set up (fetch -> #start); messages wait for it. */
  #starting: Promise<void> | undefined;
  /** Tells the TCP gateway when this stream is authenticated (lib/gateway-signal.ts). */
  #signal: AuthenticatedSignal | undefined;
  /** The peer's first stream header has been seen (the authority link is warmed once per stream). */
  #headerSeen = false;
  /** That warm-up while it runs (a claim on this stream waits for it: lib/effects.ts). */
  #warming: Promise<unknown> | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#store = new SessionStore(ctx.storage.sql);
    this.#queue = new DeliveryQueue(ctx.storage.sql, {
      deliver: (stanzas, source) => deliverBatchToApp(this.env, stanzas, source),
      env,
      reply: (stanza) => this.#reply(stanza),
      rearm: () => this.#arm(),
      now: () => Date.now(),
    });
    void ctx.blockConcurrencyWhile(async () => {
      this.#queue.windowMs = (await edgeConfig(this.env)).deliveryCommitWindowMs;
      await this.#resume();
      // What an earlier instance accepted but did not deliver (even on a stream now closed).
      this.#queue.resume();
    });
  }

  // After hibernation or eviction: rebuild the engine from its snapshot around the live socket.
  async #resume(): Promise<void> {
    this.#meta = this.#store.get<SessionMeta>("meta", true);
    const snap = this.#store.get("snapshot");
    const ws = this.ctx.getWebSockets()[0];
    if (!this.#meta || !snap || this.#meta.closed) return;
    this.#idUsed = true;
    const stream = restoreStream(snap, await this.#deps(), this.#store);
    this.#host = await this.#makeHost(stream, ws);
    if (!ws) await this.#host.input((s, now) => s.handleTransportClosed(now));
    // Carry out at once what the restored engine asks for again (key work, a verification).
    else await this.#host.input(() => {});
  }

  async #deps() {
    const config = await edgeConfig(this.env);
    this.#policy ??= new LivePolicy(this.env, config);
    // Read once per stream (and per restart of the DO); later changes are pushed (policyChanged).
    await this.#policy.subscribe(this.#meta!.id);
    // RFC 6120 §13.12: the policy's maxStanzaBytes knob, else MAX_STANZA_BYTES (set at stream start).
    this.#codec ??= new FrameCodec(readerLimits(config, this.#policy), this.#meta!.open, this.#meta!.connection.batched);
    const info = this.#meta!.connection;
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
      // The first header we send carries the DO's own name (the id /xmpp-s2s minted); a restart
      // (RFC 6120 §6.4.6, after SASL) needs a new stream id (§4.7.3), and gets a fresh one.
      newStreamId: () => {
        if (this.#idUsed) return newStreamId();
        this.#idUsed = true;
        return asStreamId(this.#meta!.id);
      },
    };
  }

  async #makeHost(stream: S2SStream, ws: WebSocket | undefined): Promise<SessionHost> {
    const config = await edgeConfig(this.env);
    const keys = new DialbackKeys(config.secret, config.previousSecrets, config.keyFormulas);
    const control = new ControlReporter(this.env, this.#meta!.id, (p) => this.ctx.waitUntil(p));
    const effects = makeEffects(this.env, {
      reply: (stanza) => this.#reply(stanza),
      observe: (a) => this.#observe(a, control),
      verified: (seconds) => control.verificationLatency(seconds),
      accept: (stanza) => this.#queue.accept(stanza),
      waitUntil: (p) => this.ctx.waitUntil(p),
      prepare: (actions) => this.#routesFor(actions),
      warming: () => this.#warming,
    });
    const signal = new AuthenticatedSignal(this.#meta!.connection.signalAuthenticated === true, (frame) => ws?.send(frame));
    this.#signal = signal;
    const link = {
      write: (out: Outgoing) => {
        const text = this.#codec!.encode(out);
        host.counters.bytesOut += text.length;
        ws?.send(text);
        signal.wrote(out);
      },
      close: () => {
        try {
          ws?.close(1000, "stream closed");
        } catch {
          // already closed by the peer
        }
      },
    };
    this.#idle = new IdleClock(config.idleSeconds * 1000, ws, Date.now());
    const host = new SessionHost(stream, link, effects, keys, this.#store, (at) => {
      this.#engineDeadline = at;
      this.#arm(host);
    });
    return host;
  }

  // One alarm for the engine's next deadline, the idle check and the delivery queue's retry;
  // setAlarm only when it moves (the host reports after every input, and most stanzas change none).
  #arm(host: SessionHost | undefined = this.#host): void {
    const open = host && !host.closed ? Math.min(this.#engineDeadline ?? Infinity, this.#idle?.due ?? Infinity) : Infinity;
    const next = Math.min(open, this.#queue.due ?? Infinity);
    const at = next === Infinity ? undefined : next;
    if (at === this.#armed) return;
    this.#armed = at;
    if (at === undefined) void this.ctx.storage.deleteAlarm();
    else void this.ctx.storage.setAlarm(at);
  }

  #observe(a: ShellAction, control: ControlReporter): void {
    control.action(a);
    this.#signal?.observe(a);
    this.#announce(a);
    if (a.type === "pair-state" && this.#host && this.#meta) {
      // O(1): the whole description (every pair) after every pair change was O(pairs) per claim.
      control.session(sessionInfo(this.#meta, this.#host));
    }
    if (a.type === "closed" && this.#meta) {
      this.#meta.closed = true;
      this.#store.putJson("meta", this.#meta);
    }
    if (a.type === "closed" || (a.type === "pair-state" && a.state === "valid")) this.#releaseSlot();
  }

  // The client address's slot for unauthenticated streams (durable-objects/peer-address.ts), given
  // back at the first verified pair or when the stream ends.
  #releaseSlot(): void {
    const slot = this.#meta?.connection.slot;
    if (!slot || !this.#meta) return;
    delete this.#meta.connection.slot;
    this.#store.putJson("meta", this.#meta);
    const id = this.#meta.id;
    this.ctx.waitUntil(peerAddressStub(this.env, slot).release(id).catch(() => {}));
  }

  // XEP-0288 §2: an inbound pair verified on a bidi stream lets the app's stanzas to that peer ride
  // this stream (RemoteDomain offers them via trySendBidi before dialling out). Only verified pairs
  // make routes (issue 10.3), announced before type='valid' is written so the RemoteDomain knows
  // the route before the peer can expect an answer; failed or revoked pairs and a closed stream
  // withdraw theirs.
  #routesFor(actions: readonly ShellAction[]): Promise<unknown> | undefined {
    const host = this.#host;
    if (!host?.stream.bidi || !this.#meta) return undefined;
    let told: Promise<unknown>[] | undefined;
    for (const a of actions) {
      if (a.type === "pair-state" && a.direction === "inbound" && a.state === "valid") (told ??= []).push(this.#announcer().pairVerified(a.remote, a.local));
    }
    return told && Promise.all(told);
  }

  #announcer(): BidiAnnouncer {
    return (this.#bidi ??= new BidiAnnouncer(this.env, this.#meta!.id, (p) => this.ctx.waitUntil(p)));
  }

  #announce(a: ShellAction): void {
    if (!this.#meta || !this.#host?.stream.bidi) return;
    if (a.type === "pair-state" && a.direction === "inbound" && a.state !== "valid" && a.state !== "pending") this.#announcer().pairGone(a.remote, a.local);
    else if (a.type === "closed") this.#announcer().closed(this.#host.stream.inboundRemotes());
  }

  /** RemoteDomain's offer of an application stanza for this peer (lib/bidi-route.ts). */
  async trySendBidi(xml: string) {
    const ws = this.ctx.getWebSockets()[0];
    return trySendBidi(this.#host, ws?.readyState === WebSocket.OPEN, xml);
  }

  // Replies from the application to the peer: on this stream when bidi lets us, else outbound.
  // Resolves once handed on (the RemoteDomain persists it), so the queue deletes its row after.
  #reply(stanza: Element): Promise<unknown> | undefined {
    const host = this.#host;
    const from = jidDomain(stanza.attrs.from);
    const to = jidDomain(stanza.attrs.to);
    if (!from || !to) return;
    if (host && !host.closed && host.stream.bidi) return host.input((s, now) => s.sendStanza(stanza, now));
    const sent = sendOutbound(this.env, stanza, to as Domain, from as Domain);
    this.ctx.waitUntil(sent);
    return sent;
  }

  override async fetch(request: Request): Promise<Response> {
    const id = request.headers.get(STREAM_ID_HEADER);
    const connection = JSON.parse(request.headers.get(TRUSTED_CONNECTION_HEADER) ?? "null") as ConnectionInfo | null;
    if (!id || !connection || this.#meta) return new Response("stream sessions are opened through /xmpp-s2s", { status: 400 });
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server);
    this.#meta = { id, direction: "inbound", connection, openedAt: Date.now(), closed: false };
    this.#store.putJson("meta", this.#meta);
    // Issue 11.6: the policy read (a round trip to the ControlPlane singleton, which every session
    // reports to) overlaps the peer's first bytes instead of holding the 101: the gateway opens this
    // WebSocket at TCP accept and forwards nothing before it, so the 101 is on the handshake's path.
    // What arrives meanwhile waits for the engine (#started), in order.
    this.#starting = this.#start(server);
    // RFC 7395 §3.2 / RFC 6455 §4.2.2: the server selects the "xmpp" subprotocol.
    const headers: Record<string, string> = { "sec-websocket-protocol": "xmpp" };
    if (connection.batched) headers[FRAMING_HEADER] = "batched";
    return new Response(null, { status: 101, webSocket: client, headers });
  }

  /** The engine for a new stream: the policy (subscribed), the codec, the host. */
  async #start(server: WebSocket): Promise<void> {
    try {
      const deps = await this.#deps();
      // XEP-0238 type 1 (policy knob xmppVersion "0.9"): answer as a pre-1.0 server.
      const stream = new S2SStream({ role: "receiving", ...deps, now: Date.now(), legacy: this.#policy!.legacy });
      this.#host = await this.#makeHost(stream, server);
      const connection = this.#meta!.connection;
      log(this.env, "info", "stream.opened", {
        session: this.#meta!.id, direction: "inbound", transport: connection.transport, peer: connection.peer,
        tls: connection.tls?.version, certIdentities: connection.certIdentities.length > 0 ? connection.certIdentities : undefined,
      });
    } catch (err) {
      log(this.env, "error", "stream.start-failed", { session: this.#meta?.id, error: err instanceof Error ? err.message : String(err) });
      try {
        server.close(1011, "internal error");
      } catch {
        // already closed
      }
    }
  }

  /** Resolves once a stream opened by this instance has its engine (no-op after a restore). */
  async #started(): Promise<void> {
    if (this.#starting) await this.#starting;
  }

  override async webSocketMessage(_ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    await this.#started();
    const host = this.#host;
    if (!host) return;
    // RFC 7395 §3.5: XMPP over WebSocket uses text frames (UTF-8); binary ones are read as UTF-8
    // by the codec, strictly (invalid UTF-8 is a not-well-formed stream error).
    host.counters.bytesIn += typeof message === "string" ? message.length : message.byteLength;
    this.#idle?.traffic(Date.now());
    try {
      await this.#read(host, message);
    } finally {
      // Everything this message brought for the application: committed now, or with what follows
      // it at the end of the commit window (lib/delivery-queue.ts).
      this.#queue.persist();
    }
  }

  async #read(host: SessionHost, message: string | ArrayBuffer): Promise<void> {
    for (const e of this.#codec!.decode(message)) {
      const open = e.type === "open" && this.#meta && this.#meta.open !== this.#codec!.lastOpen ? this.#codec!.lastOpen : undefined;
      await host.event(e);
      if (e.type === "open" && !this.#headerSeen) {
        this.#headerSeen = true;
        if (!host.closed) await this.#warm(e.attrs);
      }
      if (open !== undefined && this.#meta) {
        // Kept so the reader can be primed again after hibernation (RFC 7395 §3.4 declarations).
        // Written after the event's answer went out (issue 11.6): a write made before a send holds
        // the send until the write is committed (the output gate), and the header and features
        // need not wait for it; nothing can hibernate the DO before this event ends.
        this.#meta.open = open;
        this.#store.putJson("meta", this.#meta);
      }
      if (!this.#bidiOn && host.stream.bidi) this.#bidiTurnedOn(host);
    }
  }

  // Issue 11.6: the sender domain's authority link is opened at the header (lib/verify-path.ts
  // warmAuthority), after our header and features went out; in the background.
  async #warm(attrs: Record<string, string>): Promise<void> {
    const policy = this.#policy;
    if (!policy || !this.#meta) return;
    const config = await edgeConfig(this.env);
    const t = warmTarget(attrs, config.domains, this.#meta.connection, (remote) => policy.forRemote(remote).allowed);
    if (!t) return;
    const warming = warmAuthority(this.env, t.local, t.remote).catch(() => {});
    this.#warming = warming;
    this.ctx.waitUntil(warming.finally(() => {
      if (this.#warming === warming) this.#warming = undefined;
    }));
  }

  // XEP-0288 negotiated after pairs were already authenticated (SASL EXTERNAL authenticates before
  // the restart, RFC 6120 §6.4.6, and bidi comes after it): those pairs' routes are announced now.
  #bidiTurnedOn(host: SessionHost): void {
    this.#bidiOn = true;
    if (!this.#meta) return;
    for (const [remote, local] of host.stream.verifiedInboundPairs()) void this.#announcer().pairVerified(remote, local);
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    await this.#started();
    try {
      ws.close(code === 1005 ? 1000 : code, "closing");
    } catch {
      // already closed
    }
    await this.#host?.input((s, now) => s.handleTransportClosed(now));
  }

  override async webSocketError(): Promise<void> {
    await this.#started();
    await this.#host?.input((s, now) => s.handleTransportClosed(now));
  }

  override async alarm(): Promise<void> {
    await this.alarmAt(Date.now());
  }

  /** What the alarm does, at a given time (runInDurableObject lets tests skip the wait). */
  async alarmAt(now: number): Promise<void> {
    this.#armed = undefined; // the alarm that fired is gone
    // Whatever the stream's state, stanzas accepted earlier are delivered (or bounced).
    const delivered = this.#queue.alarm();
    const host = this.#host;
    if (host) await this.#streamAlarm(host, now);
    await delivered;
  }

  async #streamAlarm(host: SessionHost, now: number): Promise<void> {
    if (!host.closed && this.#idle?.expired(now)) {
      // RFC 6120 §4.9.3.4: no traffic from the peer for the idle limit.
      const seconds = Math.round(this.#idle.limitMs / 1000);
      await host.input((s, t) => s.close(t, "connection-timeout", `no traffic for ${seconds} seconds`));
      return;
    }
    await host.input((s) => s.handleTimeout(now));
  }

  // ---- StreamSessionRpc (durable-objects/lib/session-rpc.ts), called by the ControlPlane ----

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

  async describe() {
    return this.#host && this.#meta && !this.#host.closed ? describeSession(this.#meta, this.#host) : null;
  }

  /**
   * The ControlPlane pushes a policy change to this subscribed session before answering the change
   * (issue 5: it applies to new pairs at once; issue 11.6: no policy read per db:result).
   */
  async policyChanged(policy: PolicySnapshot): Promise<boolean> {
    // Over (or never opened here): the ControlPlane forgets it. A stream still starting keeps it.
    if (!this.#meta || this.#meta.closed || this.#host?.closed) return false;
    this.#policy?.apply(policy);
    return true;
  }
}
