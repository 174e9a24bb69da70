// One per remote domain (named by the normalized domain). Owns the outbound S2S stream to it over
// connect(), reused for every domain pair (XEP-0220 §2.5): a second hosted domain sending to this
// domain authenticates on the same stream (sender multiplexing, XEP-0220 §3), so it costs no
// connection. Stanzas are persisted in the outbox before the API answers, and move into the engine
// (whose snapshot is persisted) once a stream exists; after an eviction they are put back and the
// stream is reopened. Verifications for this domain's keys do not come here: they go to the link
// pooled per authority address (authority-link.ts), which is also where a key the peer sends on this
// stream with XEP-0288 bidi is checked (another connection, as XEP-0220 §4 demands).

import { DurableObject } from "cloudflare:workers";
import { parse, type Element } from "ltx";
import type { Env } from "./env.js";
import { edgeConfig } from "./lib/config.js";
import type { StreamErrorCondition } from "../src/errors.js";
import { asDomain, type Domain } from "../src/types.js";
import { BidiRoutes } from "./lib/bidi-route.js";
import { Outbox } from "./lib/outbox.js";
import { OutboundStream, type OutboundDeps } from "./lib/outbound.js";
import { SessionStore } from "./lib/store.js";
import { DeliveryQueue } from "./lib/delivery-queue.js";
import { deliverBatchToApp } from "./lib/deliver.js";
import { jidDomain } from "../src/delivery/submit.js";
import type { VerifyOutcome } from "../src/engine/index.js";
import { targetKey } from "./lib/authority.js";
import { authorityLinkStub } from "./lib/stubs.js";
import { AlarmSlot } from "./lib/alarm-slot.js";
import type { VerifyRequest } from "./authority-link.js";

export class RemoteDomain extends DurableObject<Env> {
  readonly #outbox: Outbox;
  readonly #store: SessionStore;
  readonly #bidi: BidiRoutes;
  #flushing: Promise<void> = Promise.resolve();
  #out: OutboundStream | undefined;
  /** When the stream wants the DO's one alarm; merged with the delivery queue's retry. */
  #wants: number | undefined;
  /** Stanzas for our application (bounces, stanzas arriving on the outbound stream), persisted. */
  readonly #toApp: DeliveryQueue;
  readonly #alarm: AlarmSlot;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#alarm = new AlarmSlot(ctx.storage);
    this.#outbox = new Outbox(ctx.storage.sql);
    this.#toApp = new DeliveryQueue(ctx.storage.sql, {
      deliver: (stanzas, source) => deliverBatchToApp(this.env, stanzas, source),
      env,
      // The application's replies (and bounces for the remote sender) go out through the outbox.
      reply: (stanza) => {
        const local = jidDomain(stanza.attrs.from);
        return local ? this.enqueue(local, stanza.toString()) : undefined;
      },
      rearm: () => this.#rearm(),
      now: () => Date.now(),
    });
    this.#store = new SessionStore(ctx.storage.sql);
    this.#bidi = new BidiRoutes(env, this.#store);
    void ctx.blockConcurrencyWhile(async () => {
      this.#toApp.resume();
      // A stream from before an eviction is gone with its socket: put its queued stanzas back and
      // reopen transparently (the 15-minute socket lifetime ends here too).
      const domain = this.#store.get("domain");
      if (!domain) return;
      const orphans = OutboundStream.orphanedQueue(this.#store);
      // A verify-only link of earlier versions queued no stanzas: its snapshot is simply dropped.
      OutboundStream.orphanedQueue(this.#store, "verify:");
      for (const q of orphans) this.#outbox.add(q.local, q.xml, Date.now());
      if (this.#outbox.size() > 0) this.ctx.waitUntil(this.#flush());
    });
  }

  #deps(): OutboundDeps {
    const remote = asDomain(this.#store.get("domain")!);
    return {
      env: this.env,
      ctx: this.ctx,
      store: this.#store,
      remote,
      accept: (stanza) => this.#toApp.accept(stanza),
      arm: (at) => {
        this.#wants = at;
        this.#rearm();
      },
      // Issue 11.6: the authority link DO of this address learns that this domain's server can be
      // asked on our stream (verifyOnStream), so a claim from it needs no connection of its own.
      connected: (target) => this.ctx.waitUntil(authorityLinkStub(this.env, targetKey(target)).outboundOpened(remote).catch(() => {})),
    };
  }

  /**
   * XEP-0220 §2.1.2 step 2 on the stream we already have to this domain's server (§2.1.2: the
   * Receiving Server "can reuse an existing XML stream or establish a new connection"; §4 only
   * forbids the stream the key arrived on, the peer's stream to us, not this one): what the
   * authority link of this address asks when a claim from this domain arrives while our stream to it
   * is up (Prosody dials back to verify our db:result and claims its own domain on that stream
   * first). Null when no stream is connected: the caller opens its own link.
   */
  async verifyOnStream(req: VerifyRequest): Promise<VerifyOutcome | null> {
    const out = this.#out;
    if (!out || out.ended || !out.reached) return null;
    return out.verify({ from: asDomain(req.from), to: asDomain(req.to), id: req.id, key: req.key });
  }

  // One alarm for the DO: the earliest of what the outbound stream and the delivery queue's retry
  // need; none left -> no alarm (lib/alarm-slot.ts: written only when it must come sooner).
  #rearm(): void {
    this.#alarm.want(Math.min(this.#wants ?? Infinity, this.#toApp.due ?? Infinity));
  }

  async #stream(local: Domain): Promise<OutboundStream> {
    if (this.#out && !this.#out.ended) return this.#out;
    const config = await edgeConfig(this.env);
    // Checked again after the await: a caller that arrived meanwhile may have made it, and a second
    // stream would orphan the first one's queue (one stream per peer, XEP-0220 §2.5).
    if (this.#out && !this.#out.ended) return this.#out;
    this.#out = new OutboundStream(this.#deps(), local, config);
    return this.#out;
  }

  #remember(remote: string): void {
    if (!this.#store.get("domain")) this.#store.put("domain", remote);
  }

  /** Persists a stanza from `local` (a hosted domain), then hands it to the outbound stream. */
  async enqueue(local: string, xml: string): Promise<number> {
    const stanza = parse(xml) as Element;
    const to = (stanza.attrs.to as string).split("/")[0]!.split("@").pop()!.toLowerCase();
    this.#remember(to);
    const seq = this.#outbox.add(local, xml, Date.now());
    this.ctx.waitUntil(this.#flush());
    return seq;
  }

  /** One flush at a time: each reads the outbox afresh, so no stanza is handed over twice. */
  #flush(): Promise<void> {
    const run = () => this.#flushOnce();
    this.#flushing = this.#flushing.then(run, run);
    return this.#flushing;
  }

  /**
   * Moves the outbox into an inbound bidi stream of this domain that may carry it (XEP-0288 §2),
   * else into the outbound engine (connecting first if needed).
   */
  async #flushOnce(): Promise<void> {
    for (const local of this.#outbox.locals()) {
      let out: OutboundStream | undefined;
      for (const q of this.#outbox.list(local)) {
        if (await this.#bidi.trySend(q.xml, local)) {
          this.#outbox.remove(q.seq);
          continue;
        }
        out ??= await this.#stream(asDomain(local));
        await out.send(parse(q.xml) as Element);
        this.#outbox.remove(q.seq);
      }
    }
  }

  // ---- XEP-0288 routes, announced by inbound bidi StreamSessions of this domain ----

  /** A StreamSession verified remote -> `local` on its bidi stream (lib/bidi-route.ts). */
  async addBidiRoute(sessionId: string, local: string): Promise<void> {
    const config = await edgeConfig(this.env);
    this.#bidi.add({ session: sessionId, local }, config.limits.maxBidiRoutesPerDomain);
  }

  async removeBidiRoute(sessionId: string, local?: string): Promise<void> {
    this.#bidi.remove(sessionId, local);
  }

  /** The sessions with a route, newest first (diagnostics and tests). */
  bidiRoutes(): string[] {
    return [...new Set(this.#bidi.list().map((r) => r.session))];
  }

  queued(): number {
    return this.#outbox.size();
  }

  /** How many TCP connections this domain's DO has opened (diagnostics and tests). */
  connections(): number {
    return Number(this.#store.get("connections") ?? "0");
  }

  override async alarm(): Promise<void> {
    await this.alarmAt(Date.now());
  }

  /** What the alarm does, at a given time (runInDurableObject lets tests skip the wait). */
  async alarmAt(now: number): Promise<void> {
    this.#alarm.fired();
    const delivered = this.#toApp.alarm();
    await this.#out?.timeout(now);
    await delivered;
    this.#rearm();
  }

  // ---- StreamSessionRpc for the outbound stream (ControlPlane addresses it as "remote:<domain>") ----

  async revokePair(local: string, remote: string) {
    const s = this.#out;
    return s ? s.revokePair(asDomain(local), asDomain(remote)) : { revoked: 0, streamClosed: false };
  }

  async closeStream(condition: StreamErrorCondition, text?: string): Promise<void> {
    await this.#out?.close(condition, text);
  }

  async describe() {
    return this.#out?.describe() ?? null;
  }
}
