// One per Authoritative Server address (named by its resolved address key, "tcp:host:port" or
// "tls:host:port", after SRV and XEP-0368; durable-objects/lib/authority.ts): the receiving role's
// verification link (issue 11 items 1-2). XEP-0220 §3 lets one stream to an authoritative server
// carry db:verify for many domains ("target multiplexing" when they resolve to the same address and
// port), so every pending verification for every sender domain that resolves here shares one
// connection: 200 subdomains of one server cost one link, and a new sender domain creates no Durable
// Object, database or connection of its own. The stream header names the first domain asked for.
// Only when the authority answers a pair with item-not-found (it does not serve that domain on this
// stream), closes the stream with host-unknown, or, having advertised no dialback errors, fails the
// stream while that domain's verification was pending, that domain gets a link of its own, in this
// same DO, at most MAX_DIRECT_LINKS of them. An authority without dialback errors is multiplexed too
// (XEP-0220 §3 only warns that such a server can refuse a domain by ending the stream, which the
// fallback covers): Prosody 0.12 advertises <dialback xmlns='urn:xmpp:features:dialback'/> without
// <errors/> and answers a db:verify for any of its virtual hosts by the element's `to`, so 200 of
// its vhosts cost one connection instead of 16 links and resource-constraint for the rest (issue 11).

import { DurableObject } from "cloudflare:workers";
import type { Env } from "./env.js";
import { edgeConfig } from "./lib/config.js";
import type { VerifyOutcome } from "../src/engine/index.js";
import type { StreamErrorCondition } from "../src/errors.js";
import type { Target } from "../src/resolve/resolver.js";
import { asDomain, type Domain } from "../src/types.js";
import { OutboundStream, type OutboundDeps } from "./lib/outbound.js";
import { MemoryStore } from "./lib/store.js";
import { remoteDomainStub } from "./lib/stubs.js";
import { AlarmSlot } from "./lib/alarm-slot.js";
import { linkDown } from "./lib/links-up.js";

/** Per-domain links one authority address may need besides the pooled one (documented in README.md). */
export const MAX_DIRECT_LINKS = 16;
/** Domains remembered as having our outbound stream at this address (bounded likewise). */
const MAX_OUTBOUND_DOMAINS = 1024;
/** An outbound stream is recycled within 14 minutes (lib/outbound.ts): older entries are stale. */
const OUTBOUND_STREAM_MAX_MS = 14 * 60_000;
/** Domains remembered as needing their own link (bounded; forgetting one costs one retry). */
const MAX_DIRECT_DOMAINS = 1024;
/** The pooled link's name in #links; per-domain links are named by their domain. */
const POOLED = "";

export interface VerifyRequest {
  from: string;
  to: string;
  id: string;
  key: string;
}

export class AuthorityLink extends DurableObject<Env> {
  /** Snapshots, failed targets and the connection count, in memory: nothing here must outlive the DO. */
  readonly #store = new MemoryStore();
  readonly #links = new Map<string, OutboundStream>();
  /** Domains this authority would not verify on the pooled link: they get a link of their own. */
  readonly #direct = new Set<string>();
  readonly #wants = new Map<string, number>();
  /** Domains whose outbound stream (their RemoteDomain) is connected to this address, and since when. */
  readonly #outbound = new Map<string, number>();
  readonly #alarm = new AlarmSlot(this.ctx.storage);

  /**
   * XEP-0220 §2.1.2 step 2: asks this authority whether `key` is right for (from, to, id), on the
   * pooled link unless `to` needs its own. `address`: this DO's name; `targets`: where it is.
   */
  async verify(req: VerifyRequest, address: string, targets: Target[]): Promise<VerifyOutcome> {
    const r = { from: asDomain(req.from), to: asDomain(req.to), id: req.id, key: req.key };
    const onOurs = await this.#onOutbound(r);
    if (onOurs) return onOurs;
    if (!this.#direct.has(r.to)) {
      const pooled = await this.#link(POOLED, r, address, targets);
      if (pooled) {
        const outcome = await pooled.link.verify(r);
        if (!this.#refusedHere(outcome, pooled.link) || pooled.remote === r.to) return outcome;
      }
      this.#rememberDirect(r.to);
    }
    const own = await this.#link(r.to, r, address, targets);
    if (!own) return { type: "error", condition: "resource-constraint" };
    return own.link.verify(r);
  }

  /**
   * verify() for several claims in one call (lib/verify-path.ts AuthorityCalls: the claims of one
   * DO's streams for this address that arrived together); each answered as if asked alone, in order.
   */
  async verifyMany(items: readonly { req: VerifyRequest; targets: Target[] }[], address: string): Promise<VerifyOutcome[]> {
    return Promise.all(items.map(({ req, targets }) =>
      this.verify(req, address, targets).catch((): VerifyOutcome => ({ type: "error", condition: "remote-connection-failed" }))));
  }

  /**
   * Issue 11.6: opens the pooled link for `to` ahead of its first db:verify (the peer's stream
   * header came before its db:result; lib/verify-path.ts warmAuthority). Nothing to do when `to`
   * needs a link of its own or has our outbound stream here; #link reuses a pooled link that is up.
   */
  async warm(req: { from: string; to: string }, address: string, targets: Target[]): Promise<void> {
    const r = { from: asDomain(req.from), to: asDomain(req.to) };
    if (this.#direct.has(r.to) || this.#hasOutbound(r.to)) return;
    await this.#link(POOLED, r, address, targets);
  }

  /** A RemoteDomain connected its outbound stream for `domain` to this address (lib/outbound.ts). */
  async outboundOpened(domain: string): Promise<void> {
    this.#outbound.delete(domain);
    if (this.#outbound.size >= MAX_OUTBOUND_DOMAINS) this.#outbound.delete(this.#outbound.keys().next().value!);
    this.#outbound.set(domain, Date.now());
  }

  #hasOutbound(domain: string): boolean {
    const since = this.#outbound.get(domain);
    if (since === undefined) return false;
    if (Date.now() - since < OUTBOUND_STREAM_MAX_MS) return true;
    this.#outbound.delete(domain);
    return false;
  }

  // Issue 11.6: a claim from a domain we have a stream to (at this address) is verified on that
  // stream when no pooled link is up: it is connected already, a new link is two round trips
  // (TCP, then the stream headers). A refusal there, or no stream after all, falls back to the links.
  async #onOutbound(r: VerifyRequest): Promise<VerifyOutcome | undefined> {
    const pooled = this.#links.get(POOLED);
    if ((pooled && !pooled.ended) || !this.#hasOutbound(r.to)) return undefined;
    const outcome = await remoteDomainStub(this.env, r.to as Domain).verifyOnStream(r).catch(() => null);
    if (outcome === null) {
      this.#outbound.delete(r.to);
      return undefined;
    }
    return outcome.type === "error" ? undefined : outcome;
  }

  // The authority does not serve `to` on a stream opened for another domain: item-not-found
  // (XEP-0220 §2.4), or the host-unknown stream error (reported as remote-server-not-found once the
  // stream had reached the peer). An authority that advertised no dialback errors can only end the
  // stream (XEP-0220 §3), so there any failure after reaching it sends the domain to a link of its own.
  #refusedHere(o: VerifyOutcome, link: OutboundStream): boolean {
    if (o.type !== "error") return false;
    if (o.condition === "item-not-found") return true;
    return link.reached && (o.condition === "remote-server-not-found" || !link.dialbackErrors);
  }

  #rememberDirect(domain: Domain): void {
    if (this.#direct.size >= MAX_DIRECT_DOMAINS) this.#direct.delete(this.#direct.values().next().value!);
    this.#direct.add(domain);
  }

  async #link(name: string, r: { from: Domain; to: Domain }, address: string, targets: Target[]): Promise<{ link: OutboundStream; remote: Domain } | undefined> {
    const have = this.#links.get(name);
    if (have && !have.ended) return { link: have, remote: have.remote };
    const direct = [...this.#links].filter(([k, l]) => k !== POOLED && !l.ended).length;
    if (name !== POOLED && direct >= MAX_DIRECT_LINKS) return undefined;
    const config = await edgeConfig(this.env);
    // Checked again after the await: requests arriving together share one link.
    const again = this.#links.get(name);
    if (again && !again.ended) return { link: again, remote: again.remote };
    const remote = name === POOLED ? r.to : asDomain(name);
    const link = new OutboundStream(this.#deps(name, remote, address, targets), r.from, config);
    this.#links.set(name, link);
    return { link, remote };
  }

  #deps(name: string, remote: Domain, address: string, targets: Target[]): OutboundDeps {
    return {
      env: this.env,
      ctx: this.ctx,
      store: this.#store,
      remote,
      targets,
      keyPrefix: `link:${name}:`,
      sessionId: `authority:${address}${name === POOLED ? "" : `#${name}`}`,
      // A verification link carries no stanzas for us; anything arriving on it is dropped.
      accept: () => {},
      // Header warm-ups in this isolate stop taking the pooled link for granted (lib/links-up.ts).
      ...(name === POOLED ? { ended: () => linkDown(address) } : {}),
      arm: (at) => {
        if (at === undefined) this.#wants.delete(name);
        else this.#wants.set(name, at);
        this.#rearm();
      },
    };
  }

  /** Connections this address's DO has opened (diagnostics and tests). */
  connections(): number {
    return Number(this.#store.get("connections") ?? "0");
  }

  override async alarm(): Promise<void> {
    await this.alarmAt(Date.now());
  }

  async alarmAt(now: number): Promise<void> {
    this.#alarm.fired();
    for (const [name, link] of this.#links) {
      await link.timeout(now);
      if (link.ended) this.#links.delete(name);
    }
    this.#rearm();
  }

  // The earliest deadline of this address's links (lib/alarm-slot.ts: written only when it must
  // come sooner; each db:verify moves a link's deadline).
  #rearm(): void {
    this.#alarm.want(Math.min(...this.#wants.values()));
  }

  // ---- StreamSessionRpc for the ControlPlane: session "authority:<address>[#<domain>]" ----

  async revokePair(local: string, remote: string, _reason?: unknown, link = POOLED) {
    const s = this.#links.get(link);
    return s ? s.revokePair(asDomain(local), asDomain(remote)) : { revoked: 0, streamClosed: false };
  }

  async closeStream(condition: StreamErrorCondition, text?: string, link = POOLED): Promise<void> {
    await this.#links.get(link)?.close(condition, text);
  }

  async describe(link = POOLED) {
    return this.#links.get(link)?.describe() ?? null;
  }
}
