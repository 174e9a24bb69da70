// In-memory world for engine tests, in the spirit of h11's ConnectionPair and quinn's Pair: several
// servers (each with hosted domains, a dialback secret and a policy), streams wired on in-memory
// links, a manual clock, and an authority router, so a full three-party dialback round trip
// (originating <-> receiving, receiving <-> authoritative) runs in microseconds.

import { parse, type Element } from "ltx";
import { DialbackKeys } from "../../../src/dialback/keys.js";
import {
  DEFAULT_ENGINE_LIMITS,
  S2SStream,
  type Action,
  type EngineLimits,
  type PeerCertificate,
  type PolicyView,
  type RemotePolicy,
  type ShellAction,
  type StreamTimeouts,
  type VerifyOutcome,
} from "../../../src/engine/index.js";
import { asDomain, asStreamId, type Domain, type StreamId } from "../../../src/types.js";
import { serialize, streamClose, streamHeader, StreamReader } from "../../../src/xml/index.js";

export const d = asDomain;

export class Clock {
  now = 1_000_000;
  advance(ms: number): number {
    this.now += ms;
    return this.now;
  }
}

export const ALLOW: Extract<RemotePolicy, { allowed: true }> = { allowed: true, minLevel: "verified", bidi: true, onPairFailure: "keep-stream" };

export class TestPolicy implements PolicyView {
  hosted: Set<string>;
  remotes = new Map<string, RemotePolicy>();
  fallback: RemotePolicy;
  lim: EngineLimits;
  constructor(hosted: string[], fallback: RemotePolicy = ALLOW, limits: Partial<EngineLimits> = {}) {
    this.hosted = new Set(hosted);
    this.fallback = fallback;
    this.lim = { ...DEFAULT_ENGINE_LIMITS, ...limits };
  }
  isHosted(domain: Domain): boolean {
    return this.hosted.has(domain);
  }
  forRemote(remote: Domain | undefined): RemotePolicy {
    return (remote && this.remotes.get(remote)) || this.fallback;
  }
  limits(): EngineLimits {
    return this.lim;
  }
}

let idCounter = 0;
export const testIds = () => asStreamId(`sid${++idCounter}`);

export interface ServerOptions {
  domains: string[];
  secret?: string;
  policy?: RemotePolicy;
  limits?: Partial<EngineLimits>;
  /** Certificate presented by this server (as a TLS server and as a TLS client). */
  certificate?: PeerCertificate;
  canStartTls?: boolean;
  legacy?: boolean;
  preferTls?: boolean;
  /** "manual": verify actions are collected in `verifyRequests` instead of being routed. */
  verifyMode?: "auto" | "manual";
}

export class Server {
  readonly keys: DialbackKeys;
  readonly policy: TestPolicy;
  delivered: { stanza: Element; from: string; to: string; stream: S2SStream }[] = [];
  bounced: { stanza: Element; condition: string }[] = [];
  /** Error replies to stanzas a peer sent (RFC 6120 §8.3), addressed to that peer. */
  replies: { stanza: Element; condition: string }[] = [];
  audits: Extract<Action, { type: "audit" }>[] = [];
  pairEvents: Extract<Action, { type: "pair-state" }>[] = [];
  verifyRequests: (Extract<Action, { type: "verify" }> & { stream: S2SStream })[] = [];
  verifyResults: Extract<Action, { type: "verify-result" }>[] = [];
  log: { stream: S2SStream; action: Action }[] = [];
  /** Streams this server opened to a domain, reused (pooled) for db:verify to that authority. */
  authorityStreams = new Map<string, S2SStream>();
  constructor(
    readonly world: World,
    readonly name: string,
    readonly opts: ServerOptions,
  ) {
    this.keys = new DialbackKeys(opts.secret ?? `secret-of-${name}-0123456789`);
    this.policy = new TestPolicy(opts.domains, opts.policy ?? ALLOW, opts.limits);
  }
  get verifyMode() {
    return this.opts.verifyMode ?? "auto";
  }
}

interface End {
  server: Server;
  stream: S2SStream;
  peer?: End;
  tlsReady: boolean;
  /** In "xml" wire mode: parses what the peer writes, as the real XML layer does. */
  reader?: StreamReader;
  /** Every byte this end wrote, in "xml" wire mode. */
  written: string[];
}

/** The world: servers, links between their streams, an action pump. */
export class World {
  /**
   * "elements": elements cross the link as ltx Elements (re-parsed from their text); "xml": real
   * wire text through src/xml's writer and StreamReader, as a TCP transport carries it.
   */
  constructor(readonly wire: "elements" | "xml" = "elements") {}
  clock = new Clock();
  servers: Server[] = [];
  #ends = new Map<S2SStream, End>();
  /** (authority stream, handle) -> (stream waiting for the verdict, its handle). */
  #verifyRoutes = new Map<string, { stream: S2SStream; handle: number }>();

  server(name: string, opts: ServerOptions): Server {
    const s = new Server(this, name, opts);
    this.servers.push(s);
    return s;
  }

  /** DNS as the world sees it: domain -> server, overriding who hosts it (to model misrouting). */
  routes = new Map<string, Server>();

  hosting(domain: string): Server | undefined {
    return this.routes.get(domain) ?? this.servers.find((s) => s.opts.domains.includes(domain));
  }

  /** Open a stream from `from` (as `local`) to the server hosting `remote`. Not yet pumped. */
  connect(from: Server, local: string, remote: string): { out: S2SStream; in: S2SStream | undefined } {
    const target = this.hosting(remote);
    const out = new S2SStream({
      role: "initiating",
      policy: from.policy,
      transport: { secure: false, canStartTls: from.opts.canStartTls ?? true },
      now: this.clock.now,
      local: d(local),
      remote: d(remote),
      newStreamId: testIds,
      legacy: from.opts.legacy ?? false,
      preferTls: from.opts.preferTls ?? true,
    });
    const outEnd: End = { server: from, stream: out, tlsReady: false, written: [], ...this.#reader() };
    this.#ends.set(out, outEnd);
    let inbound: S2SStream | undefined;
    if (target) {
      inbound = new S2SStream({
        role: "receiving",
        policy: target.policy,
        transport: { secure: false, canStartTls: target.opts.canStartTls ?? true },
        now: this.clock.now,
        newStreamId: testIds,
        legacy: target.opts.legacy ?? false,
      });
      const inEnd: End = { server: target, stream: inbound, peer: outEnd, tlsReady: false, written: [], ...this.#reader() };
      outEnd.peer = inEnd;
      this.#ends.set(inbound, inEnd);
    }
    out.start(this.clock.now);
    return { out, in: inbound };
  }

  /** Attach a stream driven by the test itself (no peer): its actions are only logged. */
  adopt(server: Server, stream: S2SStream): void {
    this.#ends.set(stream, { server, stream, tlsReady: false, written: [] });
  }

  #reader(): { reader?: StreamReader } {
    return this.wire === "xml" ? { reader: new StreamReader({ maxStanzaBytes: 262144, maxDepth: 64 }) } : {};
  }

  /** What `stream`'s end wrote to the wire ("xml" mode). */
  written(stream: S2SStream): string {
    return this.#ends.get(stream)?.written.join("") ?? "";
  }

  /** "xml" mode: the peer's reader turns our text into the events the shell would feed. */
  #deliverText(end: End, text: string, now: number): void {
    end.written.push(text);
    const p = end.peer;
    if (!p?.reader) return;
    for (const ev of p.reader.feed(text)) {
      if (p.stream.phase === "closed") return;
      if (ev.type === "open") p.stream.handleOpen(ev.attrs, now);
      else if (ev.type === "element") p.stream.handleElement(ev.element, now);
      else if (ev.type === "close") p.stream.handleClose(now);
      else p.stream.close(now, ev.error.condition, ev.error.text);
    }
  }

  /** Runs every stream's actions (and the key work they ask for) until nothing moves. */
  async run(): Promise<void> {
    for (let round = 0; round < 100_000; round++) {
      let moved = false;
      for (const end of [...this.#ends.values()]) {
        for (let a = end.stream.pollAction(); a; a = end.stream.pollAction()) {
          moved = true;
          await this.#perform(end, a);
        }
      }
      if (!moved) return;
    }
    throw new Error("world did not settle");
  }

  async #perform(end: End, a: Action): Promise<void> {
    const now = this.clock.now;
    const { server, stream } = end;
    server.log.push({ stream, action: a });
    const peer = end.peer?.stream;
    switch (a.type) {
      case "send":
        if (!peer || peer.phase === "closed") return;
        if (this.wire === "xml") {
          const d = a.data;
          return this.#deliverText(end, d.kind === "header" ? streamHeader(d.attrs) : d.kind === "element" ? serialize(d.element) : streamClose(), now);
        }
        if (a.data.kind === "header") peer.handleOpen(a.data.attrs, now);
        else if (a.data.kind === "element") peer.handleElement(parse(a.data.element.toString()), now);
        else peer.handleClose(now);
        return;
      case "start-tls": {
        end.tlsReady = true;
        const p = end.peer;
        if (p?.tlsReady) {
          end.tlsReady = p.tlsReady = false;
          // RFC 6120 §5.4.3.3: both parsers start over with the new stream.
          end.reader?.reset();
          p.reader?.reset();
          const none: PeerCertificate = { status: "none", names: [] };
          stream.handleTlsEstablished({ peerCertificate: p.server.opts.certificate ?? none }, now);
          p.stream.handleTlsEstablished({ peerCertificate: server.opts.certificate ?? none }, now);
        }
        return;
      }
      case "key":
        if (a.op === "generate") stream.handleKeyGenerated(a.handle, await server.keys.generate(a.input), now);
        else stream.handleKeyChecked(a.handle, await server.keys.verify(a.input, a.key), now);
        return;
      case "verify": {
        if (server.verifyMode === "manual") {
          server.verifyRequests.push({ ...a, stream });
          return;
        }
        const auth = this.authorityStream(server, a.from, a.to);
        if (!auth) {
          stream.handleVerifyResult(a.handle, { type: "error", condition: "remote-server-not-found" }, now);
          return;
        }
        const h = auth.requestVerify({ from: a.from, to: a.to, id: a.id, key: a.key }, now);
        this.#verifyRoutes.set(`${this.#id(auth)}/${h}`, { stream, handle: a.handle });
        return;
      }
      case "verify-result": {
        server.verifyResults.push(a);
        const route = this.#verifyRoutes.get(`${this.#id(stream)}/${a.handle}`);
        if (route) {
          this.#verifyRoutes.delete(`${this.#id(stream)}/${a.handle}`);
          route.stream.handleVerifyResult(route.handle, a.outcome, now);
        }
        return;
      }
      case "deliver":
        server.delivered.push({ stanza: a.stanza, from: a.from, to: a.to, stream });
        return;
      case "bounce":
        server.bounced.push({ stanza: a.stanza, condition: a.condition });
        return;
      case "reply":
        server.replies.push({ stanza: a.stanza, condition: a.condition });
        return;
      case "pair-state":
        server.pairEvents.push(a);
        return;
      case "audit":
        server.audits.push(a);
        return;
      case "closed":
        if (peer && peer.phase !== "closed") peer.handleTransportClosed(now);
        for (const [k, s] of server.authorityStreams) if (s === stream) server.authorityStreams.delete(k);
        return;
    }
  }

  #ids = new WeakMap<S2SStream, number>();
  #nextId = 1;
  #id(s: S2SStream): number {
    let n = this.#ids.get(s);
    if (n === undefined) this.#ids.set(s, (n = this.#nextId++));
    return n;
  }

  /** The pooled stream from `server` (as `local`) to the authority for `remote`: never the stream the key came on. */
  authorityStream(server: Server, local: string, remote: string): S2SStream | undefined {
    const existing = server.authorityStreams.get(remote);
    if (existing && existing.phase !== "closed") return existing;
    if (!this.hosting(remote)) return undefined;
    const { out } = this.connect(server, local, remote);
    server.authorityStreams.set(remote, out);
    return out;
  }

  /** Feed a result for a manual verify request. */
  answer(server: Server, index: number, outcome: VerifyOutcome): void {
    const r = server.verifyRequests[index]!;
    r.stream.handleVerifyResult(r.handle, outcome, this.clock.now);
  }
}

export const el = (xml: string): Element => parse(xml);

/** A stanza from a local user. */
export const msg = (from: string, to: string, id = "m1", body = "hi"): Element =>
  parse(`<message xmlns='jabber:server' from='${from}' to='${to}' id='${id}' type='chat'><body>${body}</body></message>`);

/** Drain a stream's actions (for single-engine transcript tests). */
export function drain(s: S2SStream): Action[] {
  return s.drainActions();
}

/** Compact textual form of actions, for transcript assertions. */
export function show(actions: Action[]): string[] {
  return actions.map((a) => {
    switch (a.type) {
      case "send":
        if (a.data.kind === "header") return `send header ${JSON.stringify(a.data.attrs)}`;
        if (a.data.kind === "close") return "send close";
        return `send ${a.data.element.toString()}`;
      case "key":
        return `key ${a.op} ${a.input.receiving} ${a.input.originating} ${a.input.streamId}`;
      case "verify":
        return `verify ${a.from} ${a.to} ${a.id} ${a.key}`;
      case "verify-result":
        return `verify-result ${a.handle} ${a.outcome.type}${a.outcome.type === "error" ? ` ${a.outcome.condition}` : ""}`;
      case "pair-state":
        return `pair ${a.direction} ${a.local} ${a.remote} ${a.state}${a.condition ? ` ${a.condition}` : ""}`;
      case "deliver":
        return `deliver ${a.stanza.toString()}`;
      case "bounce":
        return `bounce ${a.condition} ${a.stanza.attrs.id}`;
      case "reply":
        return `reply ${a.stanza.toString()}`;
      case "audit":
        return `audit ${a.event}`;
      case "closed":
        return `closed ${a.by}${a.error ? ` ${a.error}` : ""}`;
      case "start-tls":
        return "start-tls";
    }
  });
}

// ------------------------------------------------------------ single-engine helpers
// Shared by the transcript tests (conformance-*, attacks, timeouts-snapshot, limits): one engine,
// the peer's lines fed by hand.

/** A server-to-server stream header as the RFC 6120 §4.7 / XEP-0220 examples write it. */
export const s2sHeader = (from: string, to: string, extra: Record<string, string> = {}): Record<string, string> => ({
  xmlns: "jabber:server",
  "xmlns:db": "jabber:server:dialback",
  "xmlns:stream": "http://etherx.jabber.org/streams",
  from,
  to,
  version: "1.0",
  ...extra,
});

/** The elements a stream wrote, serialised (headers and closes left out). */
export const sentElements = (as: readonly Action[]): string[] =>
  as.flatMap((a) => (a.type === "send" && a.data.kind === "element" ? [a.data.element.toString()] : []));

/** The audit events among `as`, in order. */
export const auditEvents = (as: readonly Action[]): string[] => as.flatMap((a) => (a.type === "audit" ? [a.event] : []));

export interface OpenOptions {
  now: number;
  /** Our hosted domains (default: `local` only). */
  hosted?: string[];
  policy?: PolicyView;
  limits?: Partial<EngineLimits>;
  timeouts?: Partial<StreamTimeouts>;
}

/**
 * A receiving stream for `local`, opened by a peer claiming `remote` (header with version='1.0'
 * unless `header` says otherwise), with its actions drained. Stream id `id`.
 */
export function openReceiving(
  opts: OpenOptions & { local: string; remote: string; id: string; header?: Record<string, string> },
): S2SStream {
  const s = new S2SStream({
    role: "receiving",
    policy: opts.policy ?? new TestPolicy(opts.hosted ?? [opts.local], ALLOW, opts.limits),
    transport: { secure: true, canStartTls: false },
    now: opts.now,
    newStreamId: () => asStreamId(opts.id),
    ...(opts.timeouts ? { timeouts: opts.timeouts } : {}),
  });
  s.handleOpen(opts.header ?? s2sHeader(opts.remote, opts.local), opts.now);
  s.drainActions();
  return s;
}

/**
 * An initiating stream `local` -> `remote`, opened: the peer's header (id `id`) and features with
 * dialback errors (plus `features` inside), actions drained.
 */
export function openInitiating(
  opts: OpenOptions & { local: string; remote: string; id: string; features?: string },
): S2SStream {
  const s = new S2SStream({
    role: "initiating",
    policy: opts.policy ?? new TestPolicy(opts.hosted ?? [opts.local], ALLOW, opts.limits),
    transport: { secure: true, canStartTls: false },
    now: opts.now,
    local: asDomain(opts.local),
    remote: asDomain(opts.remote),
    ...(opts.timeouts ? { timeouts: opts.timeouts } : {}),
  });
  s.start(opts.now);
  s.handleOpen(s2sHeader(opts.remote, opts.local, { id: opts.id }), opts.now);
  s.handleElement(
    parse(`<stream:features><dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback>${opts.features ?? ""}</stream:features>`),
    opts.now,
  );
  s.drainActions();
  return s;
}

/** drive() as it was before batching: one key at a time, fed back at once. The reference order. */
export async function driveOneByOne(stream: S2SStream, keys: DialbackKeys, now: () => number): Promise<ShellAction[]> {
  const out: ShellAction[] = [];
  for (let a: Action | undefined = stream.pollAction(); a !== undefined; a = stream.pollAction()) {
    if (a.type !== "key") out.push(a);
    else if (a.op === "generate") stream.handleKeyGenerated(a.handle, await keys.generate(a.input), now());
    else stream.handleKeyChecked(a.handle, await keys.verify(a.input, a.key, a.formulas), now());
  }
  return out;
}

/** A receiving stream on its own (no world): over TLS unless `secure` is false, with an optional peer certificate. */
export function receivingStream(policy: PolicyView, opts: { now: number; secure?: boolean; cert?: PeerCertificate; newStreamId?: () => StreamId }): S2SStream {
  return new S2SStream({
    role: "receiving",
    policy,
    transport: { secure: opts.secure ?? true, canStartTls: false, ...(opts.cert ? { peerCertificate: opts.cert } : {}) },
    now: opts.now,
    ...(opts.newStreamId ? { newStreamId: opts.newStreamId } : {}),
  });
}
