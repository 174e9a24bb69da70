// Application stanzas over a peer's own inbound bidi stream (XEP-0288). Once bidi is on, the
// receiving side may send on the stream for the inverse of every pair the peer verified on it
// (XEP-0288 §2), so a stanza local -> remote needs no outbound connection when `remote` has such a
// stream open to us. Two halves:
//   - StreamSession (inbound, bidi) announces a route to the RemoteDomain of `remote` for each pair
//     remote -> local VERIFIED on it (BidiAnnouncer), before the peer learns the pair is valid, and
//     withdraws it when the pair fails or is revoked, or the stream ends. A stream that verified
//     nothing announces nothing (issue 10.3: 300 refused streams claiming a domain were 300 routes,
//     each asked in turn for every stanza to it).
//   - RemoteDomain keeps those routes (BidiRoutes, persisted), at most MAX_BIDI_ROUTES_PER_DOMAIN,
//     newest first, and offers each queued stanza from `local` to ONE route: the newest for `local`.
//     Whatever that route does not send stays in the outbox and goes the normal way (or bounces
//     there), so nothing is lost; a route that says "gone" or "refused" is dropped.

import { parse, type Element } from "ltx";
import type { Env } from "../env.js";
import type { Domain } from "../../src/types.js";
import { jidDomain } from "../../src/delivery/submit.js";
import type { SessionHost } from "./session-host.js";
import type { SessionStore } from "./store.js";
import { inboundStreamRpc, remoteDomainStub } from "./stubs.js";
import { log } from "./log.js";

/** sent: written to the bidi stream; refused: not for this pair now; gone: the stream is over. */
export type BidiOutcome = "sent" | "refused" | "gone";

/** An inbound bidi stream (`session`) on which the pair remote -> `local` is verified. */
export interface BidiRoute {
  session: string;
  local: string;
}

const KEY = "bidi-routes";

/** RemoteDomain side: the verified routes to this remote domain, newest first, capped. */
export class BidiRoutes {
  constructor(
    private readonly env: Env,
    private readonly store: SessionStore,
  ) {}

  list(): BidiRoute[] {
    // Entries of the old format (bare session ids, announced while still pending) are not routes.
    const raw = this.store.get<unknown[]>(KEY, true) ?? [];
    return raw.filter((r): r is BidiRoute => typeof r === "object" && r !== null && typeof (r as BidiRoute).session === "string");
  }

  /** Adds (or moves to the front) a route; the oldest beyond `max` are dropped. */
  add(route: BidiRoute, max: number): void {
    const all = [route, ...this.list().filter((r) => r.session !== route.session || r.local !== route.local)];
    if (all.length > max) {
      // The cap is per remote domain, so only that domain's oldest streams lose their route (their
      // stanzas take the outbound path); logged so an operator can see a peer hitting it.
      log(this.env, "warn", "bidi.routes-capped", { routes: all.length, kept: max, dropped: all.slice(max).map((r) => r.session), limit: "MAX_BIDI_ROUTES_PER_DOMAIN" });
    }
    this.#save(all.slice(0, max));
  }

  /** Withdraws the route for `local` on `session`, or all of the session's routes when `local` is undefined. */
  remove(session: string, local?: string): void {
    this.#save(this.list().filter((r) => r.session !== session || (local !== undefined && r.local !== local)));
  }

  #save(routes: BidiRoute[]): void {
    if (routes.length) this.store.putJson(KEY, routes);
    else this.store.delete(KEY);
  }

  /** Offers `xml` (from `local`) to the newest route for `local`; true once it was sent there. */
  async trySend(xml: string, local: string): Promise<boolean> {
    const route = this.list().find((r) => r.local === local);
    if (!route) return false;
    let outcome: BidiOutcome;
    try {
      outcome = (await inboundStreamRpc(this.env, route.session).trySendBidi(xml)) as BidiOutcome;
    } catch {
      // The session's DO failed mid-call: treat the stream as gone, the outbound path takes it.
      outcome = "gone";
    }
    if (outcome === "sent") return true;
    // "refused": the pair is no longer valid there (a withdrawal was lost); "gone": the stream is over.
    this.remove(route.session, outcome === "gone" ? undefined : local);
    return false;
  }
}

/** StreamSession side: the routes this instance announced (a later instance withdraws by session). */
export class BidiAnnouncer {
  readonly #told = new Set<string>();

  constructor(
    private readonly env: Env,
    private readonly sessionId: string,
    private readonly waitUntil: (p: Promise<unknown>) => void,
  ) {}

  /**
   * XEP-0288 §2: remote -> local is verified on this bidi stream, so it may carry local -> remote.
   * Resolves once the RemoteDomain knows (or failed to learn: then the next verified pair retries).
   */
  pairVerified(remote: Domain, local: Domain): Promise<void> {
    const key = `${remote} ${local}`;
    if (this.#told.has(key)) return Promise.resolve();
    this.#told.add(key);
    const told = remoteDomainStub(this.env, remote)
      .addBidiRoute(this.sessionId, local)
      .catch(() => void this.#told.delete(key));
    this.waitUntil(told);
    return told;
  }

  /** The pair failed or was revoked: its route goes. */
  pairGone(remote: Domain, local: Domain): void {
    const key = `${remote} ${local}`;
    if (!this.#told.delete(key)) return;
    this.waitUntil(remoteDomainStub(this.env, remote).removeBidiRoute(this.sessionId, local).catch(() => {}));
  }

  /**
   * The stream ended: withdraw every route of it, from each remote domain it verified (`remotes`,
   * from the engine, covers what an earlier instance announced before an eviction). A missed
   * withdrawal is caught by trySendBidi answering "gone".
   */
  closed(remotes: readonly Domain[]): void {
    const all = new Set<string>(remotes);
    for (const key of this.#told) all.add(key.slice(0, key.indexOf(" ")));
    for (const remote of all) {
      this.waitUntil(remoteDomainStub(this.env, remote as Domain).removeBidiRoute(this.sessionId).catch(() => {}));
    }
    this.#told.clear();
  }
}

/**
 * Sends `xml` on this inbound stream if XEP-0288 lets the receiving side send it right now: bidi on,
 * stream open, and the pair local -> remote is the inverse of one the peer verified here (or one
 * we verified here ourselves). Anything else is refused rather than queued or dialled back on this
 * stream, so the caller's outbound path keeps the stanza (and its bounce semantics).
 */
export async function trySendBidi(host: SessionHost | undefined, socketOpen: boolean, xml: string): Promise<BidiOutcome> {
  if (!host || host.closed || host.abandoned || !host.stream.bidi || !socketOpen) return "gone";
  let stanza: Element;
  try {
    stanza = parse(xml) as Element;
  } catch {
    return "refused";
  }
  const local = jidDomain(stanza.attrs.from) as Domain | undefined;
  const remote = jidDomain(stanza.attrs.to) as Domain | undefined;
  if (!local || !remote) return "refused";
  let sent = false;
  try {
    const ran = await host.tryInput((s, now) => {
      if (s.phase !== "open") return;
      if (s.pairState("inbound", local, remote) !== "valid" && s.pairState("outbound", local, remote) !== "valid") return;
      s.sendStanza(stanza, now);
      sent = true;
    });
    if (!ran) return "gone";
  } catch {
    // The socket refused the write (closed under us): the stanza did not leave.
    return "gone";
  }
  if (sent) return "sent";
  return host.closed ? "gone" : "refused";
}
