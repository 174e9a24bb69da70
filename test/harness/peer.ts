// An independent XMPP S2S peer for tests and benchmarks (not the edge's engine): Server Dialback
// (XEP-0220) as Originating, Receiving and Authoritative Server, over TCP (RFC 6120) or over XEP-0468
// framing. It records what it sees so tests can assert what a real peer would observe, and counts the
// handshake round trips it waits for.

import { createHash, createHmac, randomBytes } from "node:crypto";
import { connect as tcpConnect, createServer, type Server, type Socket } from "node:net";
import { Element, parse } from "ltx";
import { connect as tlsConnect, type SecureContext } from "node:tls";
import { NS_DB, tcpWire, type Wire } from "./wire.js";

export function dialbackKey(secret: string, receiving: string, originating: string, streamId: string): string {
  // XEP-0185 §3: HMAC-SHA256 keyed with hex(SHA-256(secret)) over "receiving originating id".
  const k = createHash("sha256").update(secret).digest("hex");
  return createHmac("sha256", k).update(`${receiving} ${originating} ${streamId}`).digest("hex");
}

export type VerifyMode = "authority" | "valid" | "invalid" | "error" | "silent";

export interface PeerConfig {
  /** How the receiving role treats the edge's db:result. "authority": ask the edge via db:verify. */
  verify: VerifyMode;
  /** Dialback error condition for verify "error" (XEP-0220 §2.4). */
  errorCondition: string;
  offerBidi: boolean;
  offerDialbackErrors: boolean;
  /** Where the receiving role reaches the originating domain's authority when not via an uplink. */
  authorityTcp?: { host: string; port: number };
  /** Open a new authority connection for every verification (what Prosody does) instead of pooling. */
  authorityPerRequest: boolean;
  /** Originate with keys made from a wrong secret (a spoofer's). */
  forgeKeys: boolean;
  /** Offer STARTTLS (with a self-signed certificate, so only a peer that trusts it succeeds). */
  offerStartTls: boolean;
  /** Authoritative role: leave db:verify requests unanswered (to test loss with requests pending). */
  ignoreVerify: boolean;
  /**
   * XEP-0288 reverse dialback: on the first connection the edge opens to us with bidi, authenticate
   * our own domain to the edge there (db:result, with a forged key if `forge`), then send `stanza`
   * once the edge answered (whatever the answer: the edge must deliver it only after type='valid').
   * `to`: the edge's domain to authenticate to (default: the one the edge's header named); `alsoTo`:
   * further edge domains authenticated right after it on the same stream (answers only recorded).
   */
  reverse?: { stanza: string; forge?: boolean; to?: string; alsoTo?: string[] };
  /**
   * Authoritative role for more domains than our own: every subdomain of this one (a server with
   * many virtual hosts at one address; their keys use the same secret).
   */
  servesSubdomainsOf?: string;
  /** Authoritative role: answer item-not-found for a domain other than the stream header's `to`
   *  (an authority that does not take target multiplexing, XEP-0220 §3). */
  strictTo: boolean;
}

export const defaultConfig = (): PeerConfig => ({
  verify: "authority",
  errorCondition: "remote-server-not-found",
  offerBidi: false,
  offerDialbackErrors: true,
  authorityPerRequest: false,
  forgeKeys: false,
  offerStartTls: false,
  ignoreVerify: false,
  strictTo: false,
});

/** What happened to the reverse dialback of `PeerConfig.reverse`. */
export interface ReverseState {
  /** Our stream id of the connection the db:result went out on. */
  sentOn?: string;
  result?: { type: string; condition?: string };
  /** Our stream ids of the connections on which db:verify requests from the edge arrived. */
  verifyOn: string[];
  /** The edge's answers for `alsoTo`, by domain. */
  also: Record<string, string>;
}

export interface Job {
  id: string;
  kind: "originate" | "authority";
  from: string;
  to: string;
  stanzas: string[];
  requestBidi: boolean;
  state: "waiting-link" | "opening" | "dialback" | "ready" | "sent" | "refused" | "closed";
  result?: { type: string; condition?: string };
  /** Waits this stream did for the other side before its first stanza: open->features, db:result->answer. */
  roundTrips: number;
  startedAt?: number;
  acceptedAt?: number;
  streamError?: string;
  bidi: boolean;
  /**
   * Further sender domains claimed on this stream with claimOn() (XEP-0220 multiplexing): the edge's
   * answer for each ("pending" until it came), and its error condition if any.
   */
  claims?: Map<string, { type: string; condition?: string }>;
}

interface Conn {
  wire: Wire;
  direction: "in" | "out";
  ourId: string;
  peerId?: string;
  /** The domain the other side named in its header (`from`). */
  peerDomain?: string;
  /** The domain the other side's header asked for (`to`). */
  streamTo?: string;
  /** Pairs "from|to" verified for stanzas arriving on this stream. */
  verifiedIn: Set<string>;
  job?: Job;
  bidi: boolean;
  secure?: boolean;
  /** Authority role: db:verify requests waiting for an answer, by "from|to|id". */
  pendingVerify: Map<string, (type: string) => void>;
}

export interface Stats {
  tcpAccepted: number;
  verifyRequests: number;
  dbResults: number;
  authorityConnections: number;
  /** Handshake legs the receiving role waited on while verifying (connect, open, verify). */
  authorityRoundTrips: number;
  /** Stream headers answered on accepted connections (a round trip the dialling side waited on). */
  inboundOpens: number;
  /** <starttls/> requests answered with <proceed/>. */
  tlsAttempts: number;
}

const NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls";
const rid = () => randomBytes(8).toString("hex");
const domainOf = (jid = "") => jid.split("/")[0]!.split("@").pop()!.toLowerCase();

export class HarnessPeer {
  config = defaultConfig();
  stats: Stats = { tcpAccepted: 0, verifyRequests: 0, dbResults: 0, authorityConnections: 0, authorityRoundTrips: 0, inboundOpens: 0, tlsAttempts: 0 };
  inbox: Element[] = [];
  jobs = new Map<string, Job>();
  reverse: ReverseState = { verifyOn: [], also: {} };
  #reverseConn: Conn | undefined;
  readonly #waitingJobs: Job[] = [];
  #authority: Conn | undefined;
  #authorityReady: Promise<Conn> | undefined;
  readonly #conns = new Set<Conn>();
  readonly #listeners = new Set<() => void>();
  #server: Server | undefined;
  /** Self-signed certificate for STARTTLS (set by the server before offering it). */
  tlsContext: SecureContext | undefined;

  constructor(
    readonly domain: string,
    readonly secret: string,
  ) {}

  /** Domains the authoritative role answers for (config.servesSubdomainsOf). */
  serves(domain: string | undefined): boolean {
    const parent = this.config.servesSubdomainsOf;
    return domain === this.domain || (!!domain && !!parent && domain.endsWith(`.${parent}`));
  }

  /** Resolves on the next state change anywhere (jobs, inbox, stats). */
  changed(): Promise<void> {
    return new Promise((r) => this.#listeners.add(r));
  }
  #notify(): void {
    const ls = [...this.#listeners];
    this.#listeners.clear();
    for (const l of ls) l();
  }

  reset(): void {
    this.config = defaultConfig();
    this.stats = { tcpAccepted: 0, verifyRequests: 0, dbResults: 0, authorityConnections: 0, authorityRoundTrips: 0, inboundOpens: 0, tlsAttempts: 0 };
    this.inbox = [];
    this.jobs.clear();
    this.reverse = { verifyOn: [], also: {} };
    this.#reverseConn = undefined;
    this.#waitingJobs.length = 0;
    for (const c of this.#conns) c.wire.destroy();
    this.#conns.clear();
    this.#authority = undefined;
    this.#authorityReady = undefined;
  }

  /** Listens for S2S over TCP; resolves with the port (pass 0 for any free one). */
  listen(port: number, host = "127.0.0.1"): Promise<number> {
    this.#server = createServer((s) => {
      this.stats.tcpAccepted++;
      // Wakes GET /stats?key=tcpAccepted&atLeast=N (a connection the edge opened before any element).
      this.#notify();
      this.#accept(tcpWire(s));
    });
    return new Promise((r) => this.#server!.listen(port, host, () => r((this.#server!.address() as { port: number }).port)));
  }

  close(): Promise<void> {
    for (const c of this.#conns) c.wire.destroy();
    return new Promise((r) => (this.#server ? this.#server.close(() => r()) : r()));
  }

  /** Drops every connection without closing tags (network loss); `tcpOnly` spares relayed uplinks. */
  dropAll(tcpOnly = false): void {
    for (const c of this.#conns) if (!tcpOnly || !c.wire.framed) c.wire.destroy();
  }

  // ---- jobs: streams this peer initiates ----

  addJob(spec: Partial<Job> & { kind: Job["kind"]; to: string }): Job {
    const job: Job = {
      id: rid(), from: this.domain, stanzas: [], requestBidi: false, state: "waiting-link", roundTrips: 0, bidi: false, ...spec,
    };
    this.jobs.set(job.id, job);
    return job;
  }

  /** Runs a job over a wire: an uplink from the test bridge, a WebSocket, or a TCP socket. */
  runJob(job: Job, wire: Wire): void {
    const conn = this.#conn(wire, "out");
    conn.job = job;
    job.state = "opening";
    job.startedAt = performance.now();
    wire.open({ to: job.to, from: job.from, version: "1.0" });
    this.#notify();
  }

  dialTcp(job: Job, host: string, port: number): void {
    const s = tcpConnect(port, host, () => this.runJob(job, tcpWire(s)));
    s.on("error", () => {
      job.state = "closed";
      job.streamError = "connect-failed";
      this.#notify();
    });
  }

  /** Like dialTcp, over TLS from the first byte (XEP-0368 direct TLS); `ca` verifies the server. */
  dialTls(job: Job, host: string, port: number, tls: { ca: string; servername: string }): void {
    const s = tlsConnect({ host, port, ca: tls.ca, servername: tls.servername }, () => this.runJob(job, tcpWire(s)));
    s.on("error", () => {
      job.state = "closed";
      job.streamError = "connect-failed";
      this.#notify();
    });
  }

  /** Sends a stanza on the stream a job opened (after it was accepted). */
  sendOn(jobId: string, xml: Element): boolean {
    for (const c of this.#conns) if (c.job?.id === jobId) return c.wire.send(xml), true;
    return false;
  }

  /**
   * XEP-0220 §2.4 multiplexing: on the stream a job opened (after the edge accepted it), claim one
   * more sender domain `from` (one this peer is the authority for, config.servesSubdomainsOf) with a
   * db:result keyed like the job's own. The edge's answer lands in `job.claims`; once it is 'valid',
   * stanzas from `from` are sent on the stream with sendOn().
   */
  claimOn(jobId: string, from: string): boolean {
    for (const c of this.#conns) {
      if (c.job?.id !== jobId) continue;
      const job = c.job;
      (job.claims ??= new Map()).set(from, { type: "pending" });
      const key = dialbackKey(this.config.forgeKeys ? `forged-${this.secret}` : this.secret, job.to, from, c.peerId ?? "");
      c.wire.send(new Element("db:result", { from, to: job.to }).t(key));
      return true;
    }
    return false;
  }

  /** Ends the stream a job opened with a closing tag (RFC 6120 §4.4). */
  closeOn(jobId: string): boolean {
    for (const c of this.#conns) if (c.job?.id === jobId) return c.wire.close(), true;
    return false;
  }

  /** Sends on the newest inbound stream on which `bidi` was negotiated (XEP-0288). */
  sendBidi(xml: Element): boolean {
    const c = [...this.#conns].reverse().find((x) => x.direction === "in" && x.bidi);
    if (!c) return false;
    c.wire.send(xml);
    return true;
  }

  #conn(wire: Wire, direction: "in" | "out"): Conn {
    const conn: Conn = { wire, direction, ourId: rid(), verifiedIn: new Set(), bidi: false, pendingVerify: new Map() };
    this.#conns.add(conn);
    wire.onEvent((e) => {
      try {
        if (e.type === "open") this.#onOpen(conn, e.attrs);
        else if (e.type === "element") this.#onElement(conn, e.el);
        else wire.close();
      } catch (err) {
        console.error("harness:", err);
        wire.destroy();
      }
    });
    wire.onEnd(() => this.#ended(conn));
    return conn;
  }

  #accept(wire: Wire): void {
    this.#conn(wire, "in");
  }

  #ended(conn: Conn): void {
    this.#conns.delete(conn);
    for (const [, resolve] of conn.pendingVerify) resolve("error");
    if (this.#authority === conn) {
      this.#authority = undefined;
      this.#authorityReady = undefined;
    }
    if (conn.job && conn.job.state !== "refused") conn.job.state = "closed";
    this.#notify();
  }

  #onOpen(conn: Conn, attrs: Record<string, string>): void {
    if (conn.direction === "in") {
      // RFC 6120 §4.7: answer with our own header and a fresh id, then features.
      this.stats.inboundOpens++;
      conn.peerId = attrs.id;
      conn.peerDomain = attrs.from;
      conn.streamTo = attrs.to;
      conn.wire.open({ from: this.serves(attrs.to) ? attrs.to! : this.domain, ...(attrs.from ? { to: attrs.from } : {}), id: conn.ourId, version: "1.0" });
      const features = new Element("stream:features");
      const db = features.c("dialback", { xmlns: "urn:xmpp:features:dialback" });
      if (this.config.offerDialbackErrors) db.c("errors");
      if (this.config.offerBidi) features.c("bidi", { xmlns: "urn:xmpp:features:bidi" });
      if (this.config.offerStartTls && !conn.secure && conn.wire.startTlsServer) features.c("starttls", { xmlns: NS_TLS });
      conn.wire.send(features);
      return;
    }
    conn.peerId = attrs.id;
  }

  #onElement(conn: Conn, el: Element): void {
    const job = conn.job;
    if (el.name === "stream:features" || (el.name === "features" && el.attrs.xmlns === "http://etherx.jabber.org/streams")) {
      if (!job) return;
      job.roundTrips++; // waited: header -> header + features
      if (job.kind === "authority") {
        job.state = "ready";
        this.#authority = conn;
        this.#notify();
        return;
      }
      if (job.requestBidi && el.getChild("bidi", "urn:xmpp:features:bidi")) {
        conn.wire.send(new Element("bidi", { xmlns: "urn:xmpp:bidi" }));
        job.bidi = conn.bidi = true;
      }
      job.state = "dialback";
      const key = dialbackKey(this.config.forgeKeys ? `forged-${this.secret}` : this.secret, job.to, job.from, conn.peerId ?? "");
      conn.wire.send(new Element("db:result", { from: job.from, to: job.to }).t(key));
      this.#notify();
      return;
    }
    if (el.name === "stream:error" || (el.name === "error" && el.attrs.xmlns === "http://etherx.jabber.org/streams")) {
      if (job) job.streamError = (el.children.find((c) => typeof c !== "string") as Element | undefined)?.name ?? "unknown";
      this.#notify();
      return;
    }
    if (el.name === "starttls" && el.attrs.xmlns === NS_TLS && conn.wire.startTlsServer) {
      this.stats.tlsAttempts++;
      conn.wire.send(new Element("proceed", { xmlns: NS_TLS }));
      conn.secure = true;
      conn.wire.startTlsServer(this.tlsContext!);
      return;
    }
    if (el.name === "bidi" && el.attrs.xmlns === "urn:xmpp:bidi") {
      conn.bidi = true;
      if (conn.direction === "in") this.#reverseDialback(conn);
      return;
    }
    if (el.name === "db:result" || (el.name === "result" && el.attrs.xmlns === NS_DB)) return this.#onResult(conn, el);
    if (el.name === "db:verify" || (el.name === "verify" && el.attrs.xmlns === NS_DB)) return this.#onVerify(conn, el);
    if (["message", "presence", "iq"].includes(el.name)) {
      const pair = `${domainOf(el.attrs.from)}|${domainOf(el.attrs.to)}`;
      // RFC 6120 §13.9 / XEP-0220 §2.3: only stanzas for a verified pair (or answers on our own
      // outbound stream, which the edge may send back on a bidi stream) are accepted.
      const reverse = `${domainOf(el.attrs.to)}|${domainOf(el.attrs.from)}`;
      const ok = conn.verifiedIn.has(pair) || (conn.job?.state === "sent" && conn.bidi && reverse === `${conn.job.from}|${conn.job.to}`);
      if (!ok) {
        conn.wire.send(new Element("stream:error").c("invalid-from", { xmlns: "urn:ietf:params:xml:ns:xmpp-streams" }).root());
        conn.wire.close();
        return;
      }
      this.inbox.push(el);
      this.#notify();
    }
  }

  /** XEP-0288 §2: on a bidi stream the edge opened, authenticate our own domain to it (once). */
  #reverseDialback(conn: Conn): void {
    const spec = this.config.reverse;
    if (!spec || this.#reverseConn || !conn.peerDomain) return;
    this.#reverseConn = conn;
    this.reverse.sentOn = conn.ourId;
    // Keyed by the id of this stream, which we (the responding entity) chose (XEP-0220 §2.1.1).
    const to = spec.to ?? conn.peerDomain;
    const key = dialbackKey(spec.forge ? `forged-${this.secret}` : this.secret, to, this.domain, conn.ourId);
    conn.wire.send(new Element("db:result", { from: this.domain, to }).t(key));
    for (const other of spec.alsoTo ?? []) {
      const k = dialbackKey(spec.forge ? `forged-${this.secret}` : this.secret, other, this.domain, conn.ourId);
      conn.wire.send(new Element("db:result", { from: this.domain, to: other }).t(k));
    }
    this.#notify();
  }

  #onResult(conn: Conn, el: Element): void {
    const { from, to, type } = el.attrs;
    const reverseTo = this.config.reverse?.to ?? conn.peerDomain;
    if (type && conn === this.#reverseConn && to === this.domain && from && this.config.reverse?.alsoTo?.includes(from) && from !== reverseTo) {
      this.reverse.also[from] = type;
      this.#notify();
      return;
    }
    if (type && conn === this.#reverseConn && to === this.domain && from === reverseTo && !this.reverse.result) {
      const condition = (el.getChild("error")?.children.find((c) => typeof c !== "string") as Element | undefined)?.name;
      this.reverse.result = { type, ...(condition ? { condition } : {}) };
      if (this.config.reverse) conn.wire.send(parse(this.config.reverse.stanza) as Element);
      this.#notify();
      return;
    }
    if (type) {
      // The answer to our own db:result on a stream we initiated.
      const job = conn.job;
      const condition = (el.getChild("error")?.children.find((c) => typeof c !== "string") as Element | undefined)?.name;
      // The answer to a claimOn() domain (not the job's own).
      if (job?.claims?.get(to ?? "")?.type === "pending" && to !== job.from && from === job.to) {
        job.claims.set(to!, { type, ...(condition ? { condition } : {}) });
        this.#notify();
        return;
      }
      if (!job || job.kind !== "originate" || from !== job.to || to !== job.from) return;
      job.roundTrips++;
      job.result = { type, ...(condition ? { condition } : {}) };
      if (type === "valid") {
        job.acceptedAt = performance.now();
        for (const s of job.stanzas) conn.wire.send(parse(s) as Element);
        job.state = "sent";
      } else {
        job.state = "refused";
      }
      this.#notify();
      return;
    }
    // Receiving role: the edge asks to send from `from` to `to` (us).
    this.stats.dbResults++;
    this.#notify();
    const answer = (t: string, condition?: string) => {
      const r = new Element("db:result", { from: to, to: from, type: t });
      if (condition) r.c("error", { type: "cancel" }).c(condition, { xmlns: "urn:ietf:params:xml:ns:xmpp-stanzas" });
      if (t === "valid") conn.verifiedIn.add(`${from}|${to}`);
      conn.wire.send(r);
    };
    if (to !== this.domain) return answer("error", "item-not-found");
    switch (this.config.verify) {
      case "valid":
        return answer("valid");
      case "invalid":
        return answer("invalid");
      case "error":
        return answer("error", this.config.errorCondition);
      case "silent":
        return;
      case "authority":
        void this.#askAuthority(from!, to, conn.ourId, el.text()).then(
          (t) => (t === "valid" || t === "invalid" ? answer(t) : answer("error", "remote-connection-failed")),
          () => answer("error", "remote-connection-failed"),
        );
    }
  }

  #onVerify(conn: Conn, el: Element): void {
    const { from, to, id, type } = el.attrs;
    if (type) {
      const resolve = conn.pendingVerify.get(`${to}|${from}|${id}`);
      conn.pendingVerify.delete(`${to}|${from}|${id}`);
      resolve?.(type);
      return;
    }
    // Authoritative role (XEP-0220 §2.1.3): is this our key for (receiving=from, originating=to, id)?
    this.stats.verifyRequests++;
    if (!this.reverse.verifyOn.includes(conn.ourId)) this.reverse.verifyOn.push(conn.ourId);
    if (this.config.ignoreVerify) return void this.#notify();
    const reply = new Element("db:verify", { from: to, to: from, id });
    if (!this.serves(to) || (this.config.strictTo && to !== conn.streamTo)) {
      reply.attrs.type = "error";
      reply.c("error", { type: "cancel" }).c("item-not-found", { xmlns: "urn:ietf:params:xml:ns:xmpp-stanzas" });
    } else {
      reply.attrs.type = dialbackKey(this.secret, from!, to, id!) === el.text() ? "valid" : "invalid";
    }
    conn.wire.send(reply);
    this.#notify();
  }

  /** The receiving role's verification: over the pooled authority stream (an uplink, or TCP). */
  async #askAuthority(originating: string, receiving: string, streamId: string, key: string): Promise<string> {
    let auth: Conn;
    if (this.config.authorityTcp) {
      auth = this.config.authorityPerRequest ? await this.#dialAuthority(originating) : await (this.#authorityReady ??= this.#dialAuthority(originating));
    } else {
      if (!this.#authority) return "error";
      auth = this.#authority;
    }
    this.stats.authorityRoundTrips++;
    return new Promise((resolve) => {
      auth.pendingVerify.set(`${receiving}|${originating}|${streamId}`, (t) => {
        resolve(t);
        if (this.config.authorityPerRequest) auth.wire.close();
      });
      auth.wire.send(new Element("db:verify", { from: receiving, to: originating, id: streamId }).t(key));
    });
  }

  #dialAuthority(to: string): Promise<Conn> {
    const { host, port } = this.config.authorityTcp!;
    this.stats.authorityConnections++;
    return new Promise((resolve, reject) => {
      const s: Socket = tcpConnect(port, host, () => {
        this.stats.authorityRoundTrips++; // TCP handshake
        const job = this.addJob({ kind: "authority", to });
        const conn = this.#conn(tcpWire(s), "out");
        conn.job = job;
        job.state = "opening";
        conn.wire.open({ to, from: this.domain, version: "1.0" });
        const check = () => (job.state === "ready" ? (this.stats.authorityRoundTrips++, resolve(conn)) : void this.changed().then(check));
        check();
      });
      s.on("error", reject);
    });
  }

  takeWaitingJob(): Job | undefined {
    return this.#waitingJobs.shift();
  }
  queueForLink(job: Job): void {
    this.#waitingJobs.push(job);
  }
}
