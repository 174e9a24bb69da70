// The gateway's listeners: TCP 5269 (STARTTLS, RFC 6120 §5) and 5270 (direct TLS, XEP-0368), a
// per-IP connection limit, and graceful shutdown. Each accepted socket becomes a GatewayConnection.

import { createServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import { streamClose, streamHeader } from "../src/xml/index.js";
import type { GatewayConfig } from "./config.js";
import { GatewayConnection, type ListenerKind } from "./connection.js";
import type { Logger } from "./log.js";

export interface Gateway {
  /** Bound addresses, e.g. { starttls: 5269, directTls: 5270 } (the real ports when 0 was asked). */
  ports: { starttls?: number; directTls?: number };
  connections(): number;
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
  };
  // STARTTLS (RFC 6120 §5.4.3): the socket already carries a plaintext stream; handing it to a
  // (non-listening) tls.Server runs the server handshake with client-certificate verification, as
  // for the direct TLS port.
  const starttlsServer = createTlsServer(tlsOptions);
  const pendingTls = new Map<string, { resolve(s: TLSSocket): void; reject(e: Error): void }>();
  const key = (s: Socket) => `${s.remoteAddress}|${s.remotePort}`;
  starttlsServer.on("secureConnection", (s: TLSSocket) => {
    pendingTls.get(key(s))?.resolve(s);
    pendingTls.delete(key(s));
  });
  starttlsServer.on("tlsClientError", (e, s) => {
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
      starttlsServer.emit("connection", raw);
    });
  const live = new Set<GatewayConnection>();
  const perIp = new Map<string, number>();
  let closing = false;

  const accept = (socket: Socket, kind: ListenerKind) => {
    const ip = socket.remoteAddress ?? "unknown";
    const n = perIp.get(ip) ?? 0;
    if (closing || n >= config.maxConnectionsPerIp) {
      log.log("warn", closing ? "refused: shutting down" : "refused: too many connections from this address", { peer: ip, listener: kind, limit: config.maxConnectionsPerIp });
      if (kind === "starttls") {
        // RFC 6120 §4.9.1.1: a stream error needs our header first; policy-violation for the limit
        // (§4.9.3.18), system-shutdown while stopping (§4.9.3.20).
        const condition = closing ? "system-shutdown" : "policy-violation";
        socket.end(streamHeader({ version: "1.0" }) +
          `<stream:error><${condition} xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>` + streamClose());
        setTimeout(() => socket.destroy(), 2000).unref();
      } else socket.destroy();
      socket.on("error", () => {});
      return;
    }
    perIp.set(ip, n + 1);
    const conn = new GatewayConnection(socket, kind, {
      config,
      upgrade,
      log,
      onClosed: () => {
        live.delete(conn);
        const left = (perIp.get(ip) ?? 1) - 1;
        if (left <= 0) perIp.delete(ip);
        else perIp.set(ip, left);
        if (closing && live.size === 0) allGone?.();
      },
    });
    live.add(conn);
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
  if (config.starttlsPort !== null) {
    const srv = createServer({ noDelay: true }, (s) => accept(s, "starttls"));
    ports.starttls = await listen(srv, config.starttlsPort);
    servers.push(srv);
  }
  if (config.directTlsPort !== null) {
    const srv = createTlsServer(tlsOptions);
    srv.on("secureConnection", (s: TLSSocket) => accept(s, "direct-tls"));
    srv.on("tlsClientError", (e, s) => {
      log.log("info", "tls failed", { listener: "direct-tls", peer: s.remoteAddress, error: e.message });
      s.destroy();
    });
    ports.directTls = await listen(srv, config.directTlsPort);
    servers.push(srv);
  }
  log.log("info", "listening", { host: config.host, ...ports, edge: config.edgeUrl, requireTls: config.requireTls, domains: config.domains });

  let allGone: (() => void) | undefined;
  return {
    ports,
    connections: () => live.size,
    async close() {
      if (closing) return;
      closing = true;
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))).concat(
        new Promise<void>((resolve) => {
          if (live.size === 0) return resolve();
          allGone = resolve;
          log.log("info", "shutting down", { connections: live.size });
          for (const c of live) c.shutdown();
          setTimeout(() => {
            for (const c of live) c.destroy();
          }, config.shutdownGraceMs).unref();
        }),
      ));
      log.log("info", "stopped");
    },
  };
}
