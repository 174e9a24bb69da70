// Raw S2S clients for the hostile bench: they write exactly the bytes they are given (an attacker is
// not bound by a serializer's escaping) and read what comes back as text, matched with regexes.
// Over TCP (RFC 6120, through the gateway) or over a WebSocket (XEP-0468, RFC 7395 framing, straight
// to the edge). Every socket is loopback and is destroyed by whoever opened it.

import { connect, type Socket } from "node:net";
import WebSocket from "ws";
import { dialbackKey } from "../../test/harness/peer.js";

export const NS_FRAMING = "urn:ietf:params:xml:ns:xmpp-framing-server";
export const NS_DB = "jabber:server:dialback";

export const tcpHeader = (from: string, to: string) =>
  `<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' ` +
  `xmlns:db='${NS_DB}' from='${from}' to='${to}' version='1.0'>`;
export const wsOpen = (from: string, to: string) => `<open xmlns='${NS_FRAMING}' from='${from}' to='${to}' version='1.0'/>`;

/** One connection, either transport: `write` sends text, `text` is everything received so far. */
export interface RawConn {
  readonly kind: "tcp" | "ws";
  text: string;
  closed: boolean;
  /** Milliseconds from dial to the connection being up (TCP connect / WebSocket open). */
  write(s: string): void;
  destroy(): void;
  /** Resolves with the match once `re` matches the received text, or undefined on close / timeout. */
  waitFor(re: RegExp, ms: number): Promise<RegExpExecArray | undefined>;
  /** Resolves when the connection is closed (by either side), or after `ms`. */
  waitClosed(ms: number): Promise<boolean>;
}

class Base {
  text = "";
  closed = false;
  #waiters = new Set<() => void>();
  protected changed(): void {
    for (const w of [...this.#waiters]) w();
  }
  waitFor(re: RegExp, ms: number): Promise<RegExpExecArray | undefined> {
    return new Promise((resolve) => {
      const check = () => {
        const m = re.exec(this.text);
        if (m || this.closed) {
          clearTimeout(t);
          this.#waiters.delete(check);
          resolve(m ?? undefined);
        }
      };
      const t = setTimeout(() => {
        this.#waiters.delete(check);
        resolve(undefined);
      }, ms);
      this.#waiters.add(check);
      check();
    });
  }
  async waitClosed(ms: number): Promise<boolean> {
    await this.waitFor(/(?!)/, ms);
    return this.closed;
  }
}

class TcpConn extends Base implements RawConn {
  readonly kind = "tcp";
  constructor(readonly socket: Socket) {
    super();
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => {
      // Keep memory bounded whatever the edge sends: the tail is enough for every match we make.
      this.text = (this.text + d).slice(-65536);
      this.changed();
    });
    socket.on("close", () => {
      this.closed = true;
      this.changed();
    });
    socket.on("error", () => {});
  }
  write(s: string): void {
    if (!this.socket.destroyed) this.socket.write(s);
  }
  destroy(): void {
    this.socket.destroy();
  }
}

class WsConn extends Base implements RawConn {
  readonly kind = "ws";
  constructor(readonly ws: WebSocket) {
    super();
    ws.on("message", (d) => {
      this.text = (this.text + d.toString()).slice(-65536);
      this.changed();
    });
    ws.on("close", () => {
      this.closed = true;
      this.changed();
    });
    ws.on("error", () => {});
  }
  write(s: string): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(s);
  }
  destroy(): void {
    this.ws.terminate();
  }
}

/** TCP to host:port from `localAddress`; rejects if the connection is not up within `ms`. */
export function dialTcp(host: string, port: number, localAddress: string, ms = 10_000): Promise<RawConn> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, localAddress });
    const t = setTimeout(() => (s.destroy(), reject(new Error("connect timeout"))), ms);
    s.once("connect", () => (clearTimeout(t), resolve(new TcpConn(s))));
    s.once("error", (e) => (clearTimeout(t), reject(e)));
  });
}

/** A WebSocket to the edge's /xmpp-s2s (subprotocol xmpp, XEP-0468), from `localAddress`. */
export function dialWs(url: string, localAddress: string, ms = 10_000): Promise<RawConn> {
  return new Promise((resolve, reject) => {
    // CF-Connecting-IP: what Cloudflare's front end sets for a direct peer (per-address limits use it).
    const ws = new WebSocket(url, "xmpp", { localAddress, handshakeTimeout: ms, maxPayload: 4 * 1024 * 1024, headers: { "cf-connecting-ip": localAddress } });
    ws.once("open", () => resolve(new WsConn(ws)));
    ws.once("error", reject);
    ws.once("unexpected-response", (_req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
  });
}

/** Features received (either framing). */
export const FEATURES = /<(?:stream:)?features[^>]*(?:\/>|>[\s\S]*?<\/(?:stream:)?features>)/;
/** The id of the stream header the edge sent. */
export const STREAM_ID = /<(?:stream:stream|open)\b[^>]*\bid=['"]([^'"]+)['"]/;
/** The RFC 6120 §4.9.3 condition of a stream error, if one came. */
export function streamError(text: string): string | undefined {
  const m = /<(?:stream:)?error[^>]*>\s*<([a-z-]+)[^>]*xmlns=['"]urn:ietf:params:xml:ns:xmpp-streams['"]/.exec(text);
  return m?.[1];
}

/**
 * Opens a stream as `from` to `to` and authenticates it by dialback with a key made from the harness
 * peer's `secret` (the harness, as `from`'s Authoritative Server, then says valid). Resolves with the
 * connection once the edge answered type='valid'; throws otherwise.
 */
export async function verifiedStream(conn: RawConn, from: string, to: string, secret: string, ms = 20_000): Promise<RawConn> {
  conn.write(conn.kind === "tcp" ? tcpHeader(from, to) : wsOpen(from, to));
  if (!(await conn.waitFor(FEATURES, ms))) throw new Error(`no features: ${conn.text.slice(0, 300)}`);
  const id = STREAM_ID.exec(conn.text)?.[1];
  if (!id) throw new Error(`no stream id: ${conn.text.slice(0, 300)}`);
  const key = dialbackKey(secret, to, from, id);
  conn.write(conn.kind === "tcp" ? `<db:result from='${from}' to='${to}'>${key}</db:result>` : `<db:result xmlns:db='${NS_DB}' from='${from}' to='${to}'>${key}</db:result>`);
  const m = await conn.waitFor(/<(?:db:)?result\b[^>]*\btype=['"](\w+)['"]/, ms);
  if (m?.[1] !== "valid") throw new Error(`dialback not valid (${m?.[1] ?? "no answer"}): ${conn.text.slice(-300)}`);
  return conn;
}
