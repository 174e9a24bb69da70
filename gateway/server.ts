// The gateway's listeners: TCP 5269 (STARTTLS, RFC 6120 §5) and 5270 (direct TLS, XEP-0368), both
// plain net.Servers so that every connection is counted and limited at the raw TCP accept
// (admission.ts), before any TLS work; TLS runs on the admitted socket afterwards, within
// GATEWAY_HANDSHAKE_TIMEOUT_MS. Also graceful shutdown. Each admitted socket becomes a GatewayConnection.

import { createServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import { streamClose, streamHeader } from "../src/xml/index.js";
import { Admission, type Refusal } from "./admission.js";
import type { GatewayConfig } from "./config.js";
import { GatewayConnection, type ListenerKind } from "./connection.js";
import { startEgress } from "./egress.js";
import type { Logger } from "./log.js";
import { MuxPool } from "./mux-link.js";
import { tls13TicketsSent } from "./tls-tickets.js";

export interface Gateway {
  /** Bound addresses, e.g. { starttls: 5269, directTls: 5270 } (the real ports when 0 was asked). */
  ports: { starttls?: number; directTls?: number; egress?: number };
  /** Connections open now, counted from the raw TCP accept (TLS handshakes included). */
  connections(): number;
  /** Refused connections so far, by cap. */
  refused(): { global: number; perIp: number; waiting: number; shuttingDown: number };
  /** Counts for one peer address (connections, unauthenticated, waiting). */
  countFor(ip: string): { connections: number; unauthenticated: number; waiting: number };
  /**
   * Replaces the certificate chain, key and CA bundle for TLS handshakes from now on (SIGHUP, after a
   * renewal). Streams already up keep the session they negotiated. Throws (and keeps the previous
   * ones) when the key does not match the certificate or a PEM does not parse.
   */
  reloadTls(tls: Pick<GatewayConfig, "cert" | "key" | "ca">): void;
  /** Stops accepting, closes every stream with system-shutdown, and resolves once all are gone. */
  close(): Promise<void>;
}

export async function startGateway(config: GatewayConfig, log: Logger): Promise<Gateway> {
  const tlsOptions = {
    cert: config.cert,
    key: config.key,
    ...(config.ca ? { ca: config.ca } : {}),
    requestCert: config.requestClientCert,
    // Unverified client certificates are allowed (dialback does not need one); the connection
    // header then reports no identities.
    rejectUnauthorized: false,
    ALPNProtocols: ["xmpp-server"],
    // Node's default is 120 s: a peer that connects and never finishes TLS must cost no more than
    // the stream setup budget (issue 10 defect 1).
    handshakeTimeout: config.handshakeTimeoutMs,
  };
  // TLS on an admitted socket: handing it to a (non-listening) tls.Server runs the server handshake
  // with client-certificate verification and the handshake timeout. STARTTLS (RFC 6120 §5.4.3)
  // does it after <proceed/>, the direct TLS port (XEP-0368) at once.
  const tlsServer = createTlsServer(tlsOptions);
  const pendingTls = new Map<string, { resolve(s: TLSSocket): void; reject(e: Error): void }>();
  const key = (s: Socket) => `${s.remoteAddress}|${s.remotePort}`;
  tlsServer.on("secureConnection", (s: TLSSocket) => {
    pendingTls.get(key(s))?.resolve(s);
    pendingTls.delete(key(s));
  });
  tlsServer.on("tlsClientError", (e, s) => {
    pendingTls.get(key(s))?.reject(e);
    pendingTls.delete(key(s));
  });
  const upgrade = (raw: Socket) =>
    new Promise<TLSSocket>((resolve, reject) => {
      pendingTls.set(key(raw), { resolve, reject });
      raw.once("close", () => {
        pendingTls.get(key(raw))?.reject(new Error("connection closed during the TLS handshake"));
        pendingTls.delete(key(raw));
      });
      tlsServer.emit("connection", raw);
    });
  const live = new Set<GatewayConnection>();
  let closing = false;
  /** Sockets admitted but waiting for an unauthenticated slot (admission.ts). */
  const waiting = new Set<Socket>();
  const admission = new Admission(config, log);
  // GATEWAY_MUX: the connections of one address share WebSockets to the edge (mux-link.ts).
  const mux = config.mux ? new MuxPool({ url: config.edgeUrl, token: config.token, maxStreams: config.muxStreams, log }) : undefined;

  // Refused STARTTLS sockets linger up to 2 s so the stream error reaches the peer before the close;
  // past this many at once they are closed at once instead (refusals must not pile up fds).
  const MAX_LINGERING = 256;
  let lingering = 0;
  const refuse = (socket: Socket, kind: ListenerKind, why: Refusal) => {
    socket.on("error", () => {});
    if (kind === "starttls" && lingering < MAX_LINGERING) {
      // RFC 6120 §4.9.1.1: a stream error needs our header first. policy-violation for the
      // per-address limit (§4.9.3.18), resource-constraint for the global one (§4.9.3.15),
      // system-shutdown while stopping (§4.9.3.20). Written without reading anything.
      const condition = why === "shutting-down" ? "system-shutdown" : why === "global" ? "resource-constraint" : "policy-violation";
      // ("waiting": the address's unauthenticated budget and its line are both full: policy-violation.)
      socket.end(streamHeader({ version: "1.0" }) +
        `<stream:error><${condition} xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>` + streamClose());
      lingering++;
      socket.once("close", () => lingering--);
      setTimeout(() => socket.destroy(), 2000).unref();
    } else {
      // Before TLS there is no way to say why (direct TLS): the connection is closed at once.
      socket.destroy();
    }
  };

  const accept = (socket: Socket, kind: ListenerKind) => {
    const ip = socket.remoteAddress ?? "unknown";
    const ticket = admission.admit(ip, kind);
    if (typeof ticket === "string") return refuse(socket, kind, ticket);
    let waitTimer: NodeJS.Timeout | undefined;
    let gone = false;
    if (ticket.state === "waiting") {
      waiting.add(socket);
      // Over the unauthenticated budget of its address: held unread until a slot frees, at most
      // GATEWAY_HANDSHAKE_TIMEOUT_MS (admission.ts).
      socket.on("error", () => {});
      socket.once("close", () => {
        gone = true;
        waiting.delete(socket);
        clearTimeout(waitTimer);
        ticket.release();
        if (closing && admission.total === 0) allGone?.();
      });
      waitTimer = setTimeout(() => {
        if (kind === "starttls") {
          // RFC 6120 §4.9.3.4 connection-timeout, after our header (§4.9.1.1), read nothing.
          socket.end(streamHeader({ version: "1.0" }) +
            `<stream:error><connection-timeout xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>` + streamClose());
          setTimeout(() => socket.destroy(), 2000).unref();
        } else socket.destroy();
      }, config.handshakeTimeoutMs);
    }
    ticket.onStart(() => {
      if (gone) return;
      clearTimeout(waitTimer);
      waiting.delete(socket);
      socket.removeAllListeners("close");
      socket.removeAllListeners("error");
      socket.resume();
      const conn = new GatewayConnection(socket, kind, {
        config,
        upgrade,
        log,
        authenticated: () => ticket.authenticated(),
        ...(mux ? { openEdge: (info, highWaterMark, events) => mux.channel(info, highWaterMark, events) } : {}),
        onClosed: () => {
          live.delete(conn);
          ticket.release();
          if (closing && admission.total === 0) allGone?.();
        },
      });
      live.add(conn);
    });
  };

  const servers: Server[] = [];
  const ports: Gateway["ports"] = {};
  const listen = (srv: Server, port: number) =>
    new Promise<number>((resolve, reject) => {
      srv.once("error", reject);
      srv.listen(port, config.host, () => {
        srv.off("error", reject);
        resolve((srv.address() as { port: number }).port);
      });
    });
  const listenOn = async (port: number, kind: ListenerKind) => {
    // pauseOnConnect: nothing is read before admission decides (a waiting connection stays unread).
    const srv = createServer({ noDelay: true, pauseOnConnect: true }, (s) => accept(s, kind));
    // After listen() an error here (e.g. EMFILE from accept) must not take the process down.
    srv.on("error", (e) => log.log("error", "listener error", { listener: kind, error: e.message }));
    servers.push(srv);
    return listen(srv, port);
  };
  // Issue 12: the edge's outbound connections, when GATEWAY_EGRESS_PORT is set (egress.ts).
  const egress = config.egressPort !== null ? await startEgress(config, log, config.egressPort) : undefined;
  if (egress) ports.egress = egress.port;
  // TLS 1.3 session tickets break jabberd2 2.7 (gateway/tls-tickets.ts): say whether peers get any.
  const tls13Tickets = await tls13TicketsSent(tlsOptions);
  if (config.starttlsPort !== null) ports.starttls = await listenOn(config.starttlsPort, "starttls");
  if (config.directTlsPort !== null) ports.directTls = await listenOn(config.directTlsPort, "direct-tls");
  log.log("info", "listening", {
    host: config.host, ...ports, edge: config.edgeUrl, requireTls: config.requireTls, domains: config.domains, tls13Tickets,
    mux: config.mux ? config.muxStreams : "off",
  });
  if (tls13Tickets > 0) {
    log.log("warn", "TLS 1.3 session tickets are on: jabberd2 peers cannot use STARTTLS; start with node --openssl-config=gateway/openssl.cnf (npm run gateway does)", { tls13Tickets });
  }

  let allGone: (() => void) | undefined;
  return {
    ports,
    connections: () => admission.total,
    refused: () => ({ ...admission.refused }),
    countFor: (ip) => admission.countFor(ip),
    reloadTls(tls) {
      // A new SecureContext for later handshakes (node:tls Server#setSecureContext); `ca` falls back
      // to Node's roots when unset, as at start.
      tlsServer.setSecureContext({ cert: tls.cert, key: tls.key, ...(tls.ca ? { ca: tls.ca } : {}) });
    },
    async close() {
      if (closing) return;
      closing = true;
      admission.close();
      await egress?.close();
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))).concat(
        new Promise<void>((resolve) => {
          if (admission.total === 0) return resolve();
          allGone = resolve;
          log.log("info", "shutting down", { connections: admission.total, waiting: waiting.size });
          // Connections still waiting for a slot were never read: just closed.
          for (const w of waiting) w.destroy();
          for (const c of live) c.shutdown();
          setTimeout(() => {
            for (const c of live) c.destroy();
          }, config.shutdownGraceMs).unref();
        }),
      ));
      // Links with channels left (none once every connection is gone) are closed too.
      mux?.close();
      log.log("info", "stopped");
    },
  };
}
