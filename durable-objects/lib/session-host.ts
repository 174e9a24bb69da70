// Drives one engine S2SStream inside a Durable Object: inputs are serialised (one at a time, in
// arrival order), the engine's actions are carried out through a Link (the socket) and Effects (the
// rest of the edge), and the snapshot is saved to SQLite whenever its revision changed, so hibernation or
// eviction loses nothing. The alarm is armed at the engine's next deadline.

import { parse, type Element } from "ltx";
import type { DialbackKeys } from "../../src/dialback/keys.js";
import { drive, S2SStream, type Action, type Outgoing, type ShellAction, type StreamSnapshot, type TlsInfo, type VerifyOutcome } from "../../src/engine/index.js";
import type { StreamErrorCondition } from "../../src/errors.js";
import type { Domain } from "../../src/types.js";
import type { WireEvent } from "./codec.js";
import type { KeyValueStore } from "./store.js";

/** The transport under the stream. */
export interface Link {
  write(out: Outgoing): void;
  /**
   * Sends what write() buffered (a gateway channel joins a step's frames into one message). Called
   * after a step's actions and before its state is saved: a message sent after a storage write waits
   * for the write's commit (the output gate).
   */
  flush?(): void;
  /**
   * STARTTLS (RFC 6120 §5.4.3.3): resolves when TLS is up, with what the TLS layer verified when it
   * knows (the gateway egress); rejects when TLS failed. Absent on WebSocket.
   */
  startTls?(): Promise<TlsInfo | void>;
  close(): void;
}

/** What the engine's actions need from the rest of the edge. */
export interface Effects {
  /** Receiving role: ask the sender's Authoritative Server (via its RemoteDomain). */
  verify(req: { from: Domain; to: Domain; id: string; key: string }): Promise<VerifyOutcome>;
  /** A verified inbound stanza, for the application. */
  deliver(stanza: Element, from: Domain, to: Domain): void;
  /** An error reply for a local sender (our application). */
  bounce(stanza: Element, condition: string): void;
  /** An error reply for the peer (a stanza it sent was refused): route it to the peer's domain. */
  reply?(stanza: Element): void;
  /** pair-state, audit, verify-result and closed, for indexes and waiters. */
  observe(action: ShellAction): void;
  /**
   * Work that must be done before any of `actions` is carried out (e.g. the bidi route of a pair
   * that becomes valid, before the peer reads type='valid'). Awaited, at most PREPARE_MS.
   */
  prepare?(actions: readonly ShellAction[]): Promise<unknown> | undefined;
}

export interface Counters {
  bytesIn: number;
  bytesOut: number;
  stanzasIn: number;
  stanzasOut: number;
}

export class SessionHost {
  #queue: Promise<void> = Promise.resolve();
  /** `stream.revision` at the last save; undefined until the first save (after start or restore). */
  #savedRevision: number | undefined;
  /** The stream is over (its `closed` action ran); inputs still reach the engine, which bounces. */
  closed = false;
  /** Replaced by another stream (plaintext fallback): nothing reaches this one any more. */
  abandoned = false;
  readonly counters: Counters = { bytesIn: 0, bytesOut: 0, stanzasIn: 0, stanzasOut: 0 };
  /** Characters of engine state written to the store so far (snapshot heads and pair rows). */
  savedBytes = 0;

  constructor(
    readonly stream: S2SStream,
    private readonly link: Link,
    private readonly effects: Effects,
    private readonly keys: DialbackKeys,
    private readonly store: KeyValueStore,
    private readonly setAlarm: (at: number | undefined) => void,
    private readonly now: () => number = Date.now,
    /** Where the snapshot lives in the DO's store (a DO with two streams gives each its own key). */
    private readonly snapshotKey = "snapshot",
  ) {}

  /** Runs `input` on the stream after every earlier input, then carries out what it caused. */
  input(input: (s: S2SStream, now: number) => void): Promise<void> {
    return this.tryInput(input).then(() => undefined);
  }

  /** Like input(); resolves false when the stream was abandoned before the input could run. */
  tryInput(input: (s: S2SStream, now: number) => void): Promise<boolean> {
    const run = async () => {
      if (this.abandoned) return false;
      input(this.stream, this.now());
      await this.#pump();
      return true;
    };
    const ran = this.#queue.then(run, run);
    this.#queue = ran.then(() => undefined, () => undefined);
    return ran;
  }

  /** One decoded event from the wire. */
  event(e: WireEvent): Promise<void> {
    switch (e.type) {
      case "open":
        return this.input((s, now) => s.handleOpen(e.attrs, now));
      case "element":
        if (e.element.name === "message" || e.element.name === "presence" || e.element.name === "iq") this.counters.stanzasIn++;
        return this.input((s, now) => s.handleElement(e.element, now));
      case "close":
        return this.input((s, now) => s.handleClose(now));
      case "error":
        return this.input((s, now) => s.close(now, e.error.condition as StreamErrorCondition, e.error.text));
    }
  }

  async #pump(): Promise<void> {
    const actions = await drive(this.stream, this.keys, this.now);
    const ready = this.effects.prepare?.(actions);
    if (ready) await deadline(ready, PREPARE_MS);
    for (const a of actions) this.#carryOut(a);
    this.link.flush?.();
    this.#save();
    this.setAlarm(this.closed ? undefined : this.stream.pollTimeout());
  }

  #carryOut(a: ShellAction): void {
    switch (a.type) {
      case "send":
        if (a.data.kind === "element" && ["message", "presence", "iq"].includes(a.data.element.name)) this.counters.stanzasOut++;
        this.link.write(a.data);
        return;
      case "start-tls": {
        const tls = this.link.startTls;
        if (!tls) return void this.input((s, now) => s.handleTransportClosed(now));
        // connect() checked the certificate against public roots (no opt-out), so a stream that
        // gets here without facts of its own is CA-valid for the name we dialled.
        void tls.call(this.link).then(
          (info) => this.input((s, now) => s.handleTlsEstablished(info ?? { peerCertificate: { status: "valid", names: [s.remote ?? ""] } }, now)),
          (err: Error) => this.input((s, now) => s.handleTlsFailed(now, err?.message ?? "TLS failed")),
        );
        return;
      }
      case "verify":
        void this.effects
          .verify({ from: a.from, to: a.to, id: a.id, key: a.key })
          .catch((): VerifyOutcome => ({ type: "error", condition: "remote-connection-failed" }))
          .then((outcome) => this.input((s, now) => s.handleVerifyResult(a.handle, outcome, now)));
        return;
      case "deliver":
        this.effects.deliver(a.stanza, a.from, a.to);
        return;
      case "bounce":
        this.effects.bounce(a.stanza, a.condition);
        return;
      case "reply":
        this.effects.reply?.(a.stanza);
        return;
      case "closed":
        this.closed = true;
        this.link.close();
        this.effects.observe(a);
        return;
      default:
        this.effects.observe(a);
    }
  }

  // The engine's revision changes exactly when its snapshot would, so stanza traffic on verified
  // pairs costs no serialisation (a snapshot with 10,000 pairs is ~800 KB of JSON) and no write. The
  // inbound pairs are rows of their own ("<key>:in:<pair>"), written only when they changed: saving
  // the whole snapshot after every claim cost O(pending pairs) per claim, and 1,000 pending claims on
  // one stream wrote ~75 MB of JSON (issue 10 item 4). A volatile store (an authority link's memory)
  // is never read back: nothing is serialised for it.
  #save(): void {
    const revision = this.stream.revision;
    if (revision === this.#savedRevision) return;
    this.#savedRevision = revision;
    if (this.store.volatile) return;
    const { head, inbound } = this.stream.snapshotParts();
    for (const [pair, rec] of inbound) {
      const k = inboundRowKey(this.snapshotKey, pair);
      if (rec) {
        const v = JSON.stringify(rec);
        this.savedBytes += k.length + v.length;
        this.store.put(k, v);
      } else this.store.delete(k);
    }
    const v = JSON.stringify(head);
    this.savedBytes += this.snapshotKey.length + v.length;
    this.store.put(this.snapshotKey, v);
  }
}

/** Where an inbound pair's row lives, next to the snapshot (`key`) it belongs to. */
export const inboundRowKey = (snapshotKey: string, pair: string): string => `${snapshotKey}:in:${pair}`;

/** How long a stream waits for Effects.prepare: past it the actions go ahead (a hung RPC must not stall the stream). */
export const PREPARE_MS = 2000;

function deadline(p: Promise<unknown>, ms: number): Promise<unknown> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise((resolve) => (timer = setTimeout(resolve, ms)));
  return Promise.race([p.catch(() => {}), late]).finally(() => clearTimeout(timer));
}

/**
 * Elements in a snapshot's queues are XML strings; the engine restores them itself. The inbound pairs
 * saved as rows (SessionHost#save) are read from `store` and put back into the snapshot.
 */
export function restoreStream(
  snapshot: string,
  deps: Parameters<typeof S2SStream.restore>[1],
  store?: Pick<KeyValueStore, "entries">,
  snapshotKey = "snapshot",
): S2SStream {
  const snap = JSON.parse(snapshot) as StreamSnapshot;
  // A snapshot saved whole (before pair rows) holds its pairs inline: they are written as rows at
  // the next save. Pairs read from rows are already saved: not written again.
  const inline = snap.inbound.length > 0;
  const prefix = inboundRowKey(snapshotKey, "");
  for (const [k, v] of store?.entries(prefix) ?? []) snap.inbound.push([k.slice(prefix.length), JSON.parse(v) as StreamSnapshot["inbound"][number][1]]);
  const stream = S2SStream.restore(snap, deps);
  if (!inline) stream.markInboundSaved();
  return stream;
}

export const parseXml = (xml: string): Element => parse(xml) as Element;
export type { Action };
