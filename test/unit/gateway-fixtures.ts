// Test fixtures for the gateway: a fake edge (a real `ws` WebSocket server on loopback that records
// what the gateway sends and lets the test answer), a raw TCP/TLS peer that reads text, and a
// gateway started with generated certificates.

import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import type { IncomingMessage } from "node:http";
import { WebSocketServer, type WebSocket } from "ws";
import { loadGatewayConfig, type GatewayConfig } from "../../gateway/config.js";
import { selfSignedFor, testCa, type Pem } from "../../gateway/dev-cert.js";
import { memoryLogger } from "../../gateway/log.js";
import { startGateway, type Gateway } from "../../gateway/server.js";
import { isMuxBatch, muxControl, muxData, parseMux, splitMuxBatch } from "../../src/gateway-contract.js";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const TOKEN = "gateway-test-token-0123456789";
export const FRAMING = "urn:ietf:params:xml:ns:xmpp-framing-server";

/** Waits until `pred()` is true (polling), or fails with `what`. */
export async function until(pred: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export interface EdgeSession {
  ws: WebSocket;
  req: IncomingMessage;
  frames: string[];
  closed: boolean;
  closeCode?: number;
}

/**
 * A fake edge's WebSocket server on loopback: subprotocol xmpp, an upgrade refused with `refuse()`
 * when set, `headers()` added to the 101.
 */
async function fakeEdgeServer(refuse: () => number | undefined, headers: () => string[], holdMs: () => number = () => 0): Promise<WebSocketServer> {
  const wss = new WebSocketServer({
    host: "127.0.0.1",
    port: 0,
    handleProtocols: (p) => (p.has("xmpp") ? "xmpp" : false),
    verifyClient: (_info, cb) => {
      const status = refuse();
      if (status) return cb(false, status, "refused by test");
      const hold = holdMs();
      return hold > 0 ? void setTimeout(() => cb(true), hold) : cb(true);
    },
  });
  wss.on("headers", (h) => void h.push(...headers()));
  await new Promise<void>((r) => wss.once("listening", () => r()));
  return wss;
}

/** The fake edge: accepts /xmpp-s2s with subprotocol xmpp (or refuses with `refuse`). */
export class FakeEdge {
  readonly sessions: EdgeSession[] = [];
  refuse: number | undefined;
  /** Answer the upgrade with X-Edge-Framing: batched (several frames per message), as the edge does. */
  batched = false;
  #wss!: WebSocketServer;
  url = "";

  async start(): Promise<this> {
    this.#wss = await fakeEdgeServer(() => this.refuse, () => (this.batched ? ["X-Edge-Framing: batched"] : []));
    this.url = `ws://127.0.0.1:${(this.#wss.address() as { port: number }).port}/xmpp-s2s`;
    this.#wss.on("connection", (ws, req) => {
      const s: EdgeSession = { ws, req, frames: [], closed: false };
      ws.on("message", (d) => s.frames.push(d.toString()));
      ws.on("close", (code) => {
        s.closed = true;
        s.closeCode = code;
      });
      this.sessions.push(s);
    });
    return this;
  }

  async session(i = 0): Promise<EdgeSession> {
    await until(() => this.sessions.length > i, `edge session ${i}`);
    return this.sessions[i]!;
  }

  async frame(s: EdgeSession, match: RegExp): Promise<string> {
    await until(() => s.frames.some((f) => match.test(f)), `edge frame ${match}`);
    return s.frames.find((f) => match.test(f))!;
  }

  stop(): Promise<void> {
    for (const c of this.#wss.clients) c.terminate();
    return new Promise((r) => this.#wss.close(() => r()));
  }
}

export interface MuxLinkAtEdge {
  ws: WebSocket;
  req: IncomingMessage;
  /** Every message from the gateway, in order (a batch's messages each in its place). */
  messages: string[];
  /** The WebSocket messages as they came (a batch is one). */
  raw: string[];
  closed: boolean;
  closeCode?: number;
}

/**
 * The fake edge of the multiplexed ingress link (src/gateway-contract.ts): accepts /xmpp-s2s with
 * subprotocol xmpp and answers X-Edge-Mux: 1 (unless `speaksMux` is false) and X-Edge-Mux-Batch: 1
 * (unless `readsBatches` is false, an older edge), records every message.
 */
export class FakeMuxEdge {
  readonly links: MuxLinkAtEdge[] = [];
  speaksMux = true;
  readsBatches = true;
  /** Answer each upgrade this many ms late (what the gateway sends meanwhile waits for the link). */
  holdUpgradeMs = 0;
  /** Refuse the upgrade with this HTTP status. */
  refuse: number | undefined;
  #wss!: WebSocketServer;
  url = "";

  async start(): Promise<this> {
    this.#wss = await fakeEdgeServer(() => this.refuse, () => [...(this.speaksMux ? ["X-Edge-Mux: 1"] : []), ...(this.readsBatches ? ["X-Edge-Mux-Batch: 1"] : [])], () => this.holdUpgradeMs);
    this.url = `ws://127.0.0.1:${(this.#wss.address() as { port: number }).port}/xmpp-s2s`;
    this.#wss.on("connection", (ws, req) => {
      const l: MuxLinkAtEdge = { ws, req, messages: [], raw: [], closed: false };
      ws.on("message", (d) => {
        const text = d.toString();
        l.raw.push(text);
        if (!isMuxBatch(text)) return void l.messages.push(text);
        const parts = splitMuxBatch(text);
        if (typeof parts === "string") throw new Error(`the gateway sent a malformed batch: ${parts}`);
        l.messages.push(...parts);
      });
      ws.on("close", (code) => {
        l.closed = true;
        l.closeCode = code;
      });
      this.links.push(l);
    });
    return this;
  }

  async link(i = 0): Promise<MuxLinkAtEdge> {
    await until(() => this.links.length > i, `mux link ${i}`);
    return this.links[i]!;
  }

  /** The open controls received on `l` so far. */
  opens(l: MuxLinkAtEdge): Array<{ ch: number; info: Record<string, unknown> }> {
    return l.messages.flatMap((m) => {
      const c = parseMux(m);
      return typeof c === "object" && !c.data && c.control.op === "open" ? [{ ch: c.control.ch, info: c.control.info }] : [];
    });
  }

  async waitOpens(l: MuxLinkAtEdge, n: number): Promise<Array<{ ch: number; info: Record<string, unknown> }>> {
    await until(() => this.opens(l).length >= n, `${n} open controls`);
    return this.opens(l);
  }

  /** Channels the gateway closed on `l`. */
  closes(l: MuxLinkAtEdge): number[] {
    return l.messages.flatMap((m) => {
      const c = parseMux(m);
      return typeof c === "object" && !c.data && c.control.op === "close" ? [c.control.ch] : [];
    });
  }

  /** Data messages for channel `ch` on `l` (each one or more frames). */
  data(l: MuxLinkAtEdge, ch: number): string[] {
    return l.messages.flatMap((m) => {
      const c = parseMux(m);
      return typeof c === "object" && c.data && c.ch === ch ? [c.frames] : [];
    });
  }

  async frame(l: MuxLinkAtEdge, ch: number, match: RegExp): Promise<string> {
    await until(() => this.data(l, ch).some((f) => match.test(f)), `data ${match} on channel ${ch}`);
    return this.data(l, ch).find((f) => match.test(f))!;
  }

  send(l: MuxLinkAtEdge, ch: number, frames: string): void {
    l.ws.send(muxData(ch, frames));
  }

  close(l: MuxLinkAtEdge, ch: number): void {
    l.ws.send(muxControl({ op: "close", ch }));
  }

  stop(): Promise<void> {
    for (const c of this.#wss.clients) c.terminate();
    return new Promise((r) => this.#wss.close(() => r()));
  }
}

/** A peer's socket with everything it received as text. */
export class Peer {
  text = "";
  closed = false;
  constructor(public socket: Socket) {
    this.#listen(socket);
  }

  #listen(s: Socket) {
    s.setEncoding("utf8");
    s.on("data", (d: string) => (this.text += d));
    s.on("close", () => (this.closed = true));
    s.on("error", () => {});
  }

  /** A plain TCP connection; `from` picks the local address (another 127.x address is another peer IP). */
  static async tcp(port: number, opts: { from?: string } = {}): Promise<Peer> {
    const s = netConnect({ host: "127.0.0.1", port, ...(opts.from ? { localAddress: opts.from } : {}) });
    await new Promise((r, j) => s.once("connect", r).once("error", j));
    return new Peer(s);
  }

  static async directTls(port: number, opts: { cert?: Pem; from?: string; servername?: string } = {}): Promise<Peer> {
    const s = tlsConnect({
      host: "127.0.0.1", port, rejectUnauthorized: false, ALPNProtocols: ["xmpp-server"], servername: opts.servername ?? "edge.test", ...opts.cert,
      ...(opts.from ? { localAddress: opts.from } : {}),
    });
    await new Promise((r, j) => s.once("secureConnect", r).once("error", j));
    return new Peer(s);
  }

  write(s: string) {
    this.socket.write(s);
  }

  async wait(match: RegExp, what = String(match)): Promise<RegExpMatchArray> {
    await until(() => match.test(this.text), `peer to receive ${what}; got: ${this.text.slice(-400)}`);
    return this.text.match(match)!;
  }

  /** RFC 6120 §5.4: after <proceed/>, TLS on the same socket. Resets the received text. */
  async startTls(opts: { cert?: Pem } = {}): Promise<TLSSocket> {
    this.socket.removeAllListeners("data");
    const s = tlsConnect({ socket: this.socket, rejectUnauthorized: false, servername: "edge.test", ...opts.cert });
    await new Promise((r, j) => s.once("secureConnect", r).once("error", j));
    this.text = "";
    this.socket = s;
    this.#listen(s);
    return s;
  }
}

export const header = (to = "edge.test", from = "peer.test") =>
  `<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' ` +
  `xmlns:db='jabber:server:dialback' to='${to}' from='${from}' version='1.0'>`;

export interface Fixture {
  edge: FakeEdge;
  gateway: Gateway;
  config: GatewayConfig;
  log: ReturnType<typeof memoryLogger>;
  ca: Pem;
  stop(): Promise<void>;
}

let certs: Promise<{ server: Pem; ca: Pem; dir: string }> | undefined;
function sharedCerts() {
  certs ??= (async () => {
    const ca = await testCa();
    const server = await selfSignedFor(["edge.test"]);
    const dir = mkdtempSync(join(tmpdir(), "gateway-test-"));
    writeFileSync(join(dir, "cert.pem"), server.cert);
    writeFileSync(join(dir, "key.pem"), server.key);
    writeFileSync(join(dir, "ca.pem"), ca.cert);
    return { server, ca, dir };
  })();
  return certs;
}

/** Starts a fake edge and a gateway on free loopback ports; `env` overrides gateway variables. */
export async function startFixture(env: Record<string, string> = {}): Promise<Fixture> {
  const { ca, dir } = await sharedCerts();
  const edge = await new FakeEdge().start();
  const config = loadGatewayConfig({
    GATEWAY_HOST: "127.0.0.1",
    GATEWAY_STARTTLS_PORT: "0",
    GATEWAY_DIRECT_TLS_PORT: "0",
    GATEWAY_EDGE_URL: edge.url,
    GATEWAY_TOKEN: TOKEN,
    GATEWAY_CERT: join(dir, "cert.pem"),
    GATEWAY_KEY: join(dir, "key.pem"),
    GATEWAY_CA: join(dir, "ca.pem"),
    GATEWAY_DOMAINS: "edge.test",
    GATEWAY_SHUTDOWN_GRACE_MS: "300",
    // FakeEdge speaks the one-stream link; the multiplexed link has its own (gateway-mux.test.ts).
    GATEWAY_MUX: "off",
    ...env,
  });
  const log = memoryLogger();
  const gateway = await startGateway(config, log);
  return {
    edge, gateway, config, log, ca,
    async stop() {
      await gateway.close();
      await edge.stop();
    },
  };
}
