// Inbound S2S streams over WebSocket (XEP-0468), accepted with the Hibernation API; each stream's
// engine snapshot lives in SQLite, so the peer sees no difference when the DO hibernates or is
// evicted. Two shapes (the stream itself is lib/inbound-stream.ts either way):
// - one stream: a direct XEP-0468 peer, or a gateway connection on a one-stream link. The DO is named
//   by the stream id we send, and the stream's rows are the DO's own keys.
// - a multiplexed gateway link (src/gateway-contract.ts): one WebSocket carrying the TCP connections
//   of one peer address as channels, a stream per channel (issue 11 item 2: a DO with an accepted
//   WebSocket costs ~610 KiB and ~7 ms of CPU before any XMPP, a stream beside others ~28 KiB /
//   0.4 ms). The DO is named by a link id; its streams by `<link id>.<stream>` (lib/stubs.ts), each
//   with its rows under `c<channel>/`.
// - the direct XEP-0468 streams of one client address (CF-Connecting-IP; IPv6 per /64): one DO per
//   address (`/xmpp-s2s` names it from the address), each WebSocket accepted with its stream id as
//   tag, rows under `w/<stream id>/`. Measured (bench/runtime-floor.bench.ts, the Worker's workerd):
//   a DO per WebSocket ~428 KiB and ~4.5 ms of CPU, a WebSocket beside others in one DO ~186 KiB and
//   ~1.9 ms; a flood from one address also stays on that address's DO (issue 10 item 3).
// The DO shares between its streams: the delivery queue, the policy subscription and the alarm.

import { DurableObject } from "cloudflare:workers";
import type { Element } from "ltx";
import type { Env } from "./env.js";
import { edgeConfig } from "./lib/config.js";
import type { StreamErrorCondition } from "../src/errors.js";
import { newStreamId, type Domain } from "../src/types.js";
import { jidDomain } from "../src/delivery/submit.js";
import { MUX_BATCH_HEADER, MUX_HEADER, isMuxBatch, muxControl, parseMux, splitMuxBatch } from "../src/gateway-contract.js";
import { FRAMING_HEADER, STREAM_ID_HEADER, TRUSTED_CONNECTION_HEADER, channelInfo, type ConnectionInfo } from "./lib/connection-info.js";
import { replyOutbound } from "./lib/effects.js";
import { linkOf } from "./lib/stubs.js";
import { LivePolicy } from "./lib/policy-view.js";
import { InboundStream, type StreamPort, type StreamShell } from "./lib/inbound-stream.js";
import { AlarmSlot } from "./lib/alarm-slot.js";
import { batchedBudget } from "./lib/budget-client.js";
import { AuthorityCalls } from "./lib/verify-path.js";
import { attachmentMark } from "./lib/idle.js";
import { ChannelPort } from "./lib/channel-port.js";
import { PrefixedStore, SessionStore } from "./lib/store.js";
import { DeliveryQueue } from "./lib/delivery-queue.js";
import { deliverBatchToApp } from "./lib/deliver.js";
import { log } from "./lib/log.js";
import { CONTROL_PLANE_NAME, type PolicySnapshot } from "./lib/session-rpc.js";
import type { ReportCall } from "./lib/control.js";

/** Root row of a multiplexed link's DO. */
interface LinkMeta {
  id: string;
  peer: string | undefined;
  /** The link's WebSocket is gone: every stream of it is over. */
  closed: boolean;
}

/** Root row of a DO hosting the direct streams of one client address. */
interface HostMeta {
  id: string;
}

/** A channel of the link: its stream and its port. */
interface Channel {
  ch: number;
  stream: InboundStream;
  port: ChannelPort;
}

/** A stream of a DO with many (a link's channel, a client address's WebSocket): its rows, its index row. */
interface Member {
  store: PrefixedStore;
  row: string;
  ch?: number;
}

const channelPrefix = (ch: number) => `c${ch}/`;
/** A link's open channels: one row each (`ch/<n>` -> stream id), so an open or close writes one row. */
const CHANNEL_ROW = "ch/";

/** A client address's open direct streams: one row each (`ws/<stream id>`); rows under `w/<id>/`. */
const HOSTED_ROW = "ws/";
const hostedPrefix = (id: string) => `w/${id}/`;

/** How long a link's stream reports wait to go to the ControlPlane together. */
const REPORT_WINDOW_MS = 20;

export class StreamSession extends DurableObject<Env> {
  readonly #store: SessionStore;
  /** Stanzas for the application, persisted until delivered or bounced (at-least-once). */
  readonly #queue: DeliveryQueue;
  /** One stream (direct peer, one-stream gateway link). */
  #single: InboundStream | undefined;
  /** A multiplexed link's root row, and its channels by number. */
  #link: LinkMeta | undefined;
  readonly #channels = new Map<number, Channel>();
  /** The direct streams of one client address (a WebSocket each, tagged with the stream id). */
  #host: HostMeta | undefined;
  /** The streams of a link or a client address, by stream id. */
  readonly #members = new Map<string, Member>();
  /** Streams by stream id (both shapes), for the RPCs. */
  readonly #streams = new Map<string, InboundStream>();
  #policy: Promise<LivePolicy> | undefined;
  readonly #alarm: AlarmSlot;
  readonly #shell: StreamShell;
  /** MUX_MAX_STREAMS, read with the configuration at start (a channel's open must not wait for it). */
  #muxMaxStreams = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#store = new SessionStore(ctx.storage.sql);
    this.#alarm = new AlarmSlot(ctx.storage);
    this.#queue = new DeliveryQueue(ctx.storage.sql, {
      deliver: (stanzas, source) => deliverBatchToApp(this.env, stanzas, source),
      env,
      reply: (stanza) => this.#reply(stanza),
      rearm: () => this.#arm(),
      now: () => Date.now(),
    });
    const report = (id: string, calls: ReportCall[]) => this.#report(id, calls);
    const many = () => this.#link !== undefined || this.#host !== undefined;
    this.#shell = {
      env,
      waitUntil: (p) => this.ctx.waitUntil(p),
      accept: (stanza) => this.#queue.accept(stanza),
      arm: (stream) => this.#armFor(stream),
      policy: () => this.#livePolicy(),
      authorityCalls: new AuthorityCalls(env, batchedBudget(env)),
      closed: (stream) => this.#streamClosed(stream),
      // Only a DO with many streams batches them; a stream alone reports itself (lib/control.ts).
      get report() {
        return many() ? report : undefined;
      },
    };
    void ctx.blockConcurrencyWhile(async () => {
      const config = await edgeConfig(this.env);
      this.#queue.windowMs = config.deliveryCommitWindowMs;
      this.#muxMaxStreams = config.limits.muxMaxStreams;
      await this.#resume();
      // What an earlier instance accepted but did not deliver (even on a stream now closed).
      this.#queue.resume();
    });
  }

  // The streams of a link or client address report to the ControlPlane together: what they report
  // within REPORT_WINDOW_MS goes as one call (one event and one commit there, not one per stream
  // step; issue 11). A stream alone in its DO reports at the end of each turn (lib/control.ts).
  #reports: [string, ReportCall[]][] = [];
  #report(id: string, calls: ReportCall[]): void {
    if (this.#reports.push([id, calls]) > 1) return;
    const flush = new Promise((r) => setTimeout(r, REPORT_WINDOW_MS)).then(() => {
      const batches = this.#reports;
      this.#reports = [];
      const cp = this.env.CONTROL_PLANE;
      return cp.get(cp.idFromName(CONTROL_PLANE_NAME)).reportMany(batches).catch(() => {});
    });
    this.ctx.waitUntil(flush);
  }

  /** The DO's name: the one stream's id, or the link's id. */
  #name(): string | undefined {
    return this.#link?.id ?? this.#host?.id ?? this.#single?.id ?? this.#store.get<{ id: string }>("meta", true)?.id;
  }

  // One subscription per DO (read once, then pushed: policyChanged), shared by its streams.
  #livePolicy(): Promise<LivePolicy> {
    return (this.#policy ??= (async () => {
      const policy = new LivePolicy(this.env, await edgeConfig(this.env));
      await policy.subscribe(this.#name()!);
      return policy;
    })());
  }

  // After hibernation or eviction: rebuild the streams from their snapshots around the live socket.
  async #resume(): Promise<void> {
    const ws = this.ctx.getWebSockets()[0];
    const link = this.#store.get<LinkMeta>("link", true);
    const host = this.#store.get<HostMeta>("host", true);
    if (host) return this.#resumeHosted(host);
    if (!link) {
      this.#single = await InboundStream.restore(this.#shell, ws && this.#wsPort(ws), this.#store);
      if (this.#single) this.#streams.set(this.#single.id, this.#single);
      return;
    }
    this.#link = link;
    const open = !link.closed && ws !== undefined;
    for (const [row] of this.#store.entries(CHANNEL_ROW)) {
      const ch = Number(row.slice(CHANNEL_ROW.length));
      const store = new PrefixedStore(this.#store, channelPrefix(ch));
      const port = new ChannelPort(ch, open ? ws : undefined, store);
      const stream = await this.#restoreMember(row, store, open ? port : undefined);
      if (stream) this.#addMember(stream, { store, row, ch }, port);
    }
  }

  async #resumeHosted(host: HostMeta): Promise<void> {
    this.#host = host;
    for (const [row] of this.#store.entries(HOSTED_ROW)) {
      const id = row.slice(HOSTED_ROW.length);
      const ws = this.ctx.getWebSockets(id)[0];
      const store = new PrefixedStore(this.#store, hostedPrefix(id));
      const stream = await this.#restoreMember(row, store, ws && this.#wsPort(ws));
      if (stream) this.#addMember(stream, { store, row });
    }
  }

  /** A stream of a link or client address rebuilt from its rows; over: its rows go. */
  async #restoreMember(row: string, store: PrefixedStore, port: StreamPort | undefined): Promise<InboundStream | undefined> {
    const stream = await InboundStream.restore(this.#shell, port, store);
    if (stream && !stream.over) return stream;
    store.clear();
    this.#store.delete(row);
    return undefined;
  }

  #addMember(stream: InboundStream, member: Member, port?: ChannelPort): void {
    this.#members.set(stream.id, member);
    this.#streams.set(stream.id, stream);
    if (member.ch !== undefined && port) this.#channels.set(member.ch, { ch: member.ch, stream, port });
  }

  #wsPort(ws: WebSocket): StreamPort {
    return {
      send: (text) => ws.send(text),
      close: () => {
        try {
          ws.close(1000, "stream closed");
        } catch {
          // already closed by the peer
        }
      },
      get open() {
        return ws.readyState === WebSocket.OPEN;
      },
      traffic: attachmentMark(ws),
    };
  }

  // One alarm for every stream's next deadline (engine, idle check) and the delivery queue's retry;
  // written only when it must come sooner (lib/alarm-slot.ts: streams report after every input).
  #arm(): void {
    let next = this.#queue.due ?? Infinity;
    for (const s of this.#streams.values()) next = Math.min(next, s.due ?? Infinity);
    this.#alarm.want(next);
  }

  // After each input of one stream: the alarm only ever moves sooner between firings, so that
  // stream's time is all that can matter (scanning every stream made each input O(streams): 200
  // streams of one link, 4% of the isolate's time in the fan-out). A stream that ended may leave
  // nothing to wake for: then the whole scan, once per stream.
  #armFor(stream: InboundStream): void {
    const due = stream.due;
    if (due === undefined) return this.#arm();
    this.#alarm.want(Math.min(due, this.#queue.due ?? Infinity));
  }

  // Replies the delivery queue has for a peer (a stanza the application refused): on a bidi stream
  // from that peer when there is one, else outbound (lib/inbound-stream.ts reply).
  #reply(stanza: Element): Promise<unknown> | undefined {
    const to = jidDomain(stanza.attrs.to) as Domain | undefined;
    const via = this.#single ?? (to ? [...this.#streams.values()].find((s) => s.carriesRepliesTo(to)) : undefined);
    return via ? via.reply(stanza) : replyOutbound(this.env, stanza, (p) => this.ctx.waitUntil(p));
  }

  override async fetch(request: Request): Promise<Response> {
    const id = request.headers.get(STREAM_ID_HEADER);
    const connection = JSON.parse(request.headers.get(TRUSTED_CONNECTION_HEADER) ?? "null") as ConnectionInfo | null;
    if (!id || !connection) return new Response("stream sessions are opened through /xmpp-s2s", { status: 400 });
    const hosted = connection.transport === "websocket" && id.includes(".");
    if (hosted ? this.#link || this.#single : this.#name()) return new Response("stream sessions are opened through /xmpp-s2s", { status: 400 });
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    // RFC 7395 §3.2 / RFC 6455 §4.2.2: the server selects the "xmpp" subprotocol.
    const headers: Record<string, string> = { "sec-websocket-protocol": "xmpp" };
    if (hosted) {
      if (!this.#host) {
        this.#host = { id: linkOf(id) };
        this.#store.putJson("host", this.#host);
      }
      this.ctx.acceptWebSocket(server, [id]);
      const store = new PrefixedStore(this.#store, hostedPrefix(id));
      const stream = InboundStream.open(this.#shell, this.#wsPort(server), store, id, connection);
      this.#addMember(stream, { store, row: HOSTED_ROW + id });
      this.#store.put(HOSTED_ROW + id, "");
      return new Response(null, { status: 101, webSocket: client, headers });
    }
    if (connection.mux) {
      this.ctx.acceptWebSocket(server);
      this.#link = { id, peer: connection.peer, closed: false };
      this.#store.putJson("link", this.#link);
      headers[MUX_HEADER] = "1";
      headers[MUX_BATCH_HEADER] = "1";
      return new Response(null, { status: 101, webSocket: client, headers });
    }
    this.ctx.acceptWebSocket(server);
    // Issue 11.6: the policy read (a round trip to the ControlPlane singleton) overlaps the peer's
    // first bytes instead of holding the 101: the gateway opens this WebSocket at TCP accept.
    this.#single = InboundStream.open(this.#shell, this.#wsPort(server), this.#store, id, connection);
    this.#streams.set(id, this.#single);
    if (connection.batched) headers[FRAMING_HEADER] = "batched";
    return new Response(null, { status: 101, webSocket: client, headers });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    try {
      if (this.#link) await this.#linkMessage(ws, message);
      else if (this.#host) await this.#hostedStream(ws)?.message(message);
      else await this.#single?.message(message);
    } finally {
      // Everything this message brought for the application: committed now, or with what follows
      // it at the end of the commit window (lib/delivery-queue.ts).
      this.#queue.persist();
    }
  }

  /** A hosted direct stream's WebSocket -> its stream (the socket's tag is the stream id). */
  #hostedStream(ws: WebSocket): InboundStream | undefined {
    const id = this.ctx.getTags(ws)[0];
    return id === undefined ? undefined : this.#streams.get(id);
  }

  // ---- the multiplexed link (src/gateway-contract.ts) ----

  async #linkMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    // A batch (src/gateway-contract.ts): its messages one after the other, in this one event; each
    // channel's own messages still run in order (InboundStream reads one message at a time).
    if (typeof message === "string" && isMuxBatch(message)) {
      const parts = splitMuxBatch(message);
      if (typeof parts === "string") return this.#badLinkMessage(ws, parts);
      const done: Promise<void>[] = [];
      for (const part of parts) {
        if (!this.#link || this.#link.closed) break;
        done.push(this.#linkMessage(ws, part));
      }
      await Promise.all(done);
      return;
    }
    const m = typeof message === "string" ? parseMux(message) : "binary message on a multiplexed link";
    if (typeof m === "string") return this.#badLinkMessage(ws, m);
    if (m.data) return this.#channels.get(m.ch)?.stream.message(m.frames);
    const c = m.control;
    if (c.op === "close") {
      const channel = this.#channels.get(c.ch);
      if (!channel) return;
      channel.port.gone = true;
      return channel.stream.transportClosed();
    }
    this.#openChannel(ws, c.ch, c.info);
  }

  // The gateway is ours (it had the token): a bad message is a bug there, not a peer's doing.
  #badLinkMessage(ws: WebSocket, m: string): Promise<void> {
    log(this.env, "error", "mux.bad-message", { session: this.#link!.id, error: m });
    try {
      ws.close(1002, m.slice(0, 120));
    } catch {
      // already closed
    }
    return this.#linkClosed();
  }

  // Synchronous up to the channel's entry in the map: the data that follows an open finds it.
  #openChannel(ws: WebSocket, ch: number, raw: Record<string, unknown>): void {
    const link = this.#link!;
    const max = this.#muxMaxStreams;
    const info = channelInfo(raw);
    const refuse = (why: string) => {
      log(this.env, "warn", "mux.channel-refused", { session: link.id, channel: ch, reason: why });
      ws.send(muxControl({ op: "close", ch }));
    };
    if (typeof info === "string") return refuse(info);
    if (this.#channels.has(ch)) return refuse("channel number already in use");
    // MUX_MAX_STREAMS bounds one DO's work whatever the gateway does (it opens a new link itself
    // at GATEWAY_MUX_STREAMS); the refused connection gets a stream error from the gateway.
    if (this.#channels.size >= max) return refuse(`MUX_MAX_STREAMS (${max}) streams are open on this link`);
    const store = new PrefixedStore(this.#store, channelPrefix(ch));
    const port = new ChannelPort(ch, ws, store);
    const stream = InboundStream.open(this.#shell, port, store, `${link.id}.${newStreamId()}`, info);
    this.#addMember(stream, { store, row: CHANNEL_ROW + ch, ch }, port);
    this.#store.put(CHANNEL_ROW + ch, stream.id);
  }

  // A stream of a link or client address reported `closed`: it goes (a channel's gateway learns it
  // from the port's close), and its rows are deleted once its host has saved for the last time (the
  // next input). A stream alone in its DO keeps its rows (the DO is its).
  #streamClosed(stream: InboundStream): void {
    const member = this.#members.get(stream.id);
    if (!member) return;
    this.#members.delete(stream.id);
    this.#streams.delete(stream.id);
    if (member.ch !== undefined) this.#channels.delete(member.ch);
    this.#store.delete(member.row);
    const host = stream.host;
    this.ctx.waitUntil((host ? host.input(() => {}) : Promise.resolve()).then(() => member.store.clear()));
  }

  async #linkClosed(): Promise<void> {
    const link = this.#link!;
    if (!link.closed) {
      link.closed = true;
      this.#store.putJson("link", link);
    }
    await Promise.all([...this.#channels.values()].map((c) => {
      c.port.gone = true;
      return c.stream.transportClosed();
    }));
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    try {
      ws.close(code === 1005 ? 1000 : code, "closing");
    } catch {
      // already closed
    }
    if (this.#link) return this.#linkClosed();
    if (this.#host) return this.#hostedStream(ws)?.transportClosed();
    await this.#single?.transportClosed();
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    if (this.#link) return this.#linkClosed();
    if (this.#host) return this.#hostedStream(ws)?.transportClosed();
    await this.#single?.transportClosed();
  }

  override async alarm(): Promise<void> {
    await this.alarmAt(Date.now());
  }

  /** What the alarm does, at a given time (runInDurableObject lets tests skip the wait). */
  async alarmAt(now: number): Promise<void> {
    this.#alarm.fired();
    // Whatever the streams' state, stanzas accepted earlier are delivered (or bounced).
    const delivered = this.#queue.alarm();
    await Promise.all([...this.#streams.values()].map((s) => s.alarm(now)));
    await delivered;
    this.#arm();
  }

  // ---- StreamSessionRpc (durable-objects/lib/session-rpc.ts), called through lib/stubs.ts ----
  // `stream` names the stream (lib/stubs.ts inboundStreamRpc passes it); absent: the one stream.

  #stream(stream?: string): InboundStream | undefined {
    return stream === undefined ? this.#single : this.#streams.get(stream);
  }

  async revokePair(local: string, remote: string, _reason?: string, stream?: string): Promise<{ revoked: number; streamClosed: boolean }> {
    return (await this.#stream(stream)?.revokePair(local, remote)) ?? { revoked: 0, streamClosed: false };
  }

  async closeStream(condition: StreamErrorCondition, text?: string, stream?: string): Promise<void> {
    await this.#stream(stream)?.closeStream(condition, text);
  }

  async describe(stream?: string) {
    return this.#stream(stream)?.describe() ?? null;
  }

  /** RemoteDomain's offer of an application stanza for this peer (lib/bidi-route.ts). */
  async trySendBidi(xml: string, stream?: string) {
    const s = this.#stream(stream);
    return s ? s.trySendBidi(xml) : "gone";
  }

  /**
   * The ControlPlane pushes a policy change to this subscribed DO before answering the change
   * (issue 5: it applies to new pairs at once; issue 11.6: no policy read per db:result).
   */
  async policyChanged(policy: PolicySnapshot): Promise<boolean> {
    // Over (or never opened here): the ControlPlane forgets it. A stream still starting keeps it.
    const over = this.#link ? this.#link.closed && this.#channels.size === 0 : this.#host ? this.#members.size === 0 : !this.#single || this.#single.over;
    if (over) {
      // Forgotten there: a stream this DO opens later (a client address's next one) subscribes again.
      this.#policy = undefined;
      return false;
    }
    (await this.#policy)?.apply(policy);
    return true;
  }
}
