// One per remote domain (named by the normalized domain). Owns the outbound S2S stream to it over
// connect(), reused for every domain pair (XEP-0220 §2.5) and, being a stream to the domain's
// Authoritative Server, also the pooled verification stream: every db:verify for this domain is
// multiplexed on it (seed 000), so a second verification opens no connection. Stanzas are persisted
// in the outbox before the API answers, and move into the engine (whose snapshot is persisted) once
// a stream exists; after an eviction they are put back and the stream is reopened.
// With XEP-0288 bidi the peer may also authenticate its own domain to us on that outbound stream
// (db:result in the reverse direction). Its key must be verified with the peer's Authoritative Server
// on another connection (XEP-0220 §4, XEP-0288 §2.1), so the DO then opens a second, verify-only link
// to the domain, which multiplexes db:verify like the outbound stream does for everyone else.

import { DurableObject } from "cloudflare:workers";
import { parse, type Element } from "ltx";
import type { Env } from "../worker/env.js";
import { edgeConfig } from "../worker/config.js";
import type { VerifyOutcome } from "../src/engine/index.js";
import type { StreamErrorCondition } from "../src/errors.js";
import { asDomain, type Domain } from "../src/types.js";
import { BidiRoutes } from "./lib/bidi-route.js";
import { Outbox } from "./lib/outbox.js";
import { OutboundStream, type OutboundDeps } from "./lib/outbound.js";
import { SessionStore } from "./lib/store.js";
import { DeliveryQueue } from "./lib/delivery-queue.js";
import { deliverBatchToApp } from "./lib/deliver.js";
import { jidDomain } from "../src/delivery/submit.js";

/** Storage-key prefix of the verify-only link's snapshot. */
const VERIFY_PREFIX = "verify:";

export class RemoteDomain extends DurableObject<Env> {
  readonly #outbox: Outbox;
  readonly #store: SessionStore;
  readonly #bidi: BidiRoutes;
  #flushing: Promise<void> = Promise.resolve();
  #out: OutboundStream | undefined;
  /** Verify-only link: for keys that arrived on #out itself. */
  #verifier: OutboundStream | undefined;
  /** When each stream wants the DO's one alarm; merged with the delivery queue's retry. */
  readonly #wants = new Map<"out" | "verify", number>();
  /** Stanzas for our application (bounces, stanzas arriving on the outbound stream), persisted. */
  readonly #toApp: DeliveryQueue;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#outbox = new Outbox(ctx.storage.sql);
    this.#toApp = new DeliveryQueue(ctx.storage.sql, {
      deliver: (stanzas, source) => deliverBatchToApp(this.env, stanzas, source),
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
      // The verify link queues no stanzas; its outstanding verifications died with their callers.
      OutboundStream.orphanedQueue(this.#store, VERIFY_PREFIX);
      for (const q of orphans) this.#outbox.add(q.local, q.xml, Date.now());
      if (this.#outbox.size() > 0) this.ctx.waitUntil(this.#flush());
    });
  }

  #deps(which: "out" | "verify"): OutboundDeps {
    return {
      env: this.env,
      ctx: this.ctx,
      store: this.#store,
      remote: asDomain(this.#store.get("domain")!),
      accept: (stanza) => this.#toApp.accept(stanza),
      arm: (at) => {
        if (at === undefined) this.#wants.delete(which);
        else this.#wants.set(which, at);
        this.#rearm();
      },
      ...(which === "verify" ? { keyPrefix: VERIFY_PREFIX, idSuffix: "#verify" } : {}),
    };
  }

  // One alarm for the DO: the earliest of what the outbound stream, the verify link and the delivery
  // queue's retry need; none left -> no alarm.
  #rearm(): void {
    const at = Math.min(...this.#wants.values(), this.#toApp.due ?? Infinity);
    void (at === Infinity ? this.ctx.storage.deleteAlarm() : this.ctx.storage.setAlarm(at));
  }

  async #stream(local: Domain): Promise<OutboundStream> {
    if (this.#out && !this.#out.ended) return this.#out;
    const config = await edgeConfig(this.env);
    // Checked again after the await: a caller that arrived meanwhile may have made it, and a second
    // stream would orphan the first one's queue (one stream per peer, XEP-0220 §2.5).
    if (this.#out && !this.#out.ended) return this.#out;
    this.#out = new OutboundStream(this.#deps("out"), local, config);
    return this.#out;
  }

  async #verifyLink(local: Domain): Promise<OutboundStream> {
    if (this.#verifier && !this.#verifier.ended) return this.#verifier;
    const config = await edgeConfig(this.env);
    // Checked again after the await: keys arriving together share one link.
    if (this.#verifier && !this.#verifier.ended) return this.#verifier;
    this.#verifier = new OutboundStream(this.#deps("verify"), local, config);
    return this.#verifier;
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

  /**
   * Receiving role elsewhere (XEP-0220 §2.1.2): ask this domain's Authoritative Server whether `key`
   * is right for (from = our domain, to = this domain, id). Multiplexed on the one outbound stream,
   * unless the key arrived on that very stream (bidi): then on the verify-only link (XEP-0220 §4).
   */
  async verify(from: string, to: string, id: string, key: string): Promise<VerifyOutcome> {
    this.#remember(to);
    const req = { from: asDomain(from), to: asDomain(to), id, key };
    const out = await this.#stream(req.from);
    if (!out.carries(id)) return out.verify(req);
    return (await this.#verifyLink(req.from)).verify(req);
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
    const delivered = this.#toApp.alarm();
    await this.#out?.timeout(now);
    await this.#verifier?.timeout(now);
    await delivered;
  }

  // ---- StreamSessionRpc for the outbound stream (ControlPlane addresses it as "remote:<domain>") ----

  // StreamSessionRpc for the ControlPlane: session "remote:<domain>" is the outbound stream,
  // "remote:<domain>#verify" the verify-only link (`link` = "verify"; control-plane.ts #session).

  #link(link: "verify" | undefined): OutboundStream | undefined {
    return link === "verify" ? this.#verifier : this.#out;
  }

  async revokePair(local: string, remote: string, _reason?: unknown, link?: "verify") {
    const s = this.#link(link);
    return s ? s.revokePair(asDomain(local), asDomain(remote)) : { revoked: 0, streamClosed: false };
  }

  async closeStream(condition: StreamErrorCondition, text?: string, link?: "verify"): Promise<void> {
    await this.#link(link)?.close(condition, text);
  }

  async describe(link?: "verify") {
    return this.#link(link)?.describe() ?? null;
  }
}
