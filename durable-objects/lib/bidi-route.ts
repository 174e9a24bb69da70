// Application stanzas over a peer's own inbound bidi stream (XEP-0288). Once bidi is on, the
// receiving side may send on the stream for the inverse of every pair the peer verified on it
// (XEP-0288 §2), so a stanza local -> remote needs no outbound connection when `remote` has such a
// stream open to us. Two halves:
//   - StreamSession (inbound, bidi) announces itself to the RemoteDomain of each remote domain that
//     has a pair pending or verified on it (BidiAnnouncer), and answers `trySendBidi` by sending only when the
//     engine would send at once (pair allowed, stream open, socket open).
//   - RemoteDomain keeps those announcements (BidiRoutes, persisted) and offers each queued stanza
//     to them before its own outbound stream; a refusal leaves the stanza in its outbox, so it goes
//     the normal way (or bounces there) and nothing is lost.

import { parse, type Element } from "ltx";
import type { Env } from "../../worker/env.js";
import type { Domain } from "../../src/types.js";
import { jidDomain } from "../../src/delivery/submit.js";
import type { SessionHost } from "./session-host.js";
import type { SessionStore } from "./store.js";
import { remoteDomainStub, streamSessionStub } from "./stubs.js";

/** sent: written to the bidi stream; refused: not for this pair now; gone: the stream is over. */
export type BidiOutcome = "sent" | "refused" | "gone";

const KEY = "bidi-routes";

/** RemoteDomain side: the inbound bidi sessions of this remote domain, newest first. */
export class BidiRoutes {
  constructor(
    private readonly env: Env,
    private readonly store: SessionStore,
  ) {}

  list(): string[] {
    return this.store.get<string[]>(KEY, true) ?? [];
  }

  add(sessionId: string): void {
    this.store.putJson(KEY, [sessionId, ...this.list().filter((id) => id !== sessionId)]);
  }

  remove(sessionId: string): void {
    const left = this.list().filter((id) => id !== sessionId);
    if (left.length) this.store.putJson(KEY, left);
    else this.store.delete(KEY);
  }

  /** Offers `xml` to each announced session; true once one of them sent it. */
  async trySend(xml: string): Promise<boolean> {
    for (const id of this.list()) {
      let outcome: BidiOutcome;
      try {
        outcome = (await streamSessionStub(this.env, id).trySendBidi(xml)) as BidiOutcome;
      } catch {
        // The session's DO failed mid-call: treat the stream as gone, the outbound path takes it.
        outcome = "gone";
      }
      if (outcome === "sent") return true;
      if (outcome === "gone") this.remove(id);
    }
    return false;
  }
}

/** StreamSession side: the remote domains already told about this stream (per DO instance). */
export class BidiAnnouncer {
  readonly #told = new Set<string>();

  constructor(
    private readonly env: Env,
    private readonly sessionId: string,
    private readonly waitUntil: (p: Promise<unknown>) => void,
  ) {}

  /** XEP-0288 §2: `remote` has (or is verifying) a pair on this bidi stream: it may carry our stanzas to it. */
  pairAnnounced(remote: Domain): void {
    if (this.#told.has(remote)) return;
    this.#told.add(remote);
    this.waitUntil(remoteDomainStub(this.env, remote).addBidiRoute(this.sessionId).catch(() => this.#told.delete(remote)));
  }

  /** The stream ended: withdraw it (a missed withdrawal is caught by trySendBidi answering "gone"). */
  closed(): void {
    for (const remote of this.#told) {
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
