// Egress (issue 12 item 1): the edge's outbound S2S connections made by the gateway, for what a
// Worker's connect() cannot do: accept a self-signed certificate where policy allows it, check the
// certificate against the XMPP domain (RFC 6125 / RFC 7712: DNS-ID, SRV-ID, XmppAddr, with SNI
// = the domain) instead of the dialled host, and present the domain's certificate as a client
// certificate (so the edge can authenticate with SASL EXTERNAL, XEP-0178). The contract is in
// src/gateway-contract.ts. Stateless: every link is one WebSocket <-> one TCP connection; a restart
// drops them and the edge dials again.

import { createServer, type IncomingMessage, type Server } from "node:http";
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { timingSafeEqual, X509Certificate } from "node:crypto";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import {
  CONNECTION_HEADER, EGRESS_ERROR_HEADER, EGRESS_HEADER, GATEWAY_TOKEN_HEADER, parseEgressRequest,
  type EgressControl, type EgressFacts, type EgressRequest,
} from "../src/gateway-contract.js";
import { identitiesFor, namesOf } from "../src/tls/identity.js";
import type { GatewayConfig } from "./config.js";
import type { Logger } from "./log.js";

export const EGRESS_CONNECT_TIMEOUT_MS = 10_000;

export interface EgressServer {
  port: number;
  links(): number;
  close(): Promise<void>;
}

function tokenOk(given: string | string[] | undefined, token: string): boolean {
  if (typeof given !== "string") return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function refuse(socket: Duplex, status: number, reason: string): void {
  const text = { 400: "Bad Request", 401: "Unauthorized", 502: "Bad Gateway", 503: "Service Unavailable" }[status] ?? "Error";
  socket.end(`HTTP/1.1 ${status} ${text}\r\n${EGRESS_ERROR_HEADER}: ${reason.replace(/[\r\n]/g, " ")}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
}

export async function startEgress(config: GatewayConfig, log: Logger, port: number): Promise<EgressServer> {
  const localNames = namesOf(new X509Certificate(config.cert).subjectAltName);
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
  const live = new Set<{ ws: WebSocket; tcp: Socket }>();
  const server: Server = createServer((_req, res) => {
    res.writeHead(426, { [EGRESS_ERROR_HEADER]: "WebSocket upgrade required" }).end();
  });

  /** The TLS facts of a secured socket, judged for `req` (undefined: refused, with the reason). */
  const judge = (s: TLSSocket, req: EgressRequest): { facts: EgressFacts } | { refused: string } => {
    const cert = s.getPeerCertificate();
    const hasCert = cert && Object.keys(cert).length > 0;
    const ids = s.authorized && hasCert ? identitiesFor(cert.subjectaltname, req.domain) : [];
    const valid = ids.length > 0;
    if (!valid && !req.acceptUntrusted) {
      const why = !hasCert ? "no certificate" : !s.authorized ? String(s.authorizationError) : `the certificate does not name ${req.domain} (RFC 6125)`;
      return { refused: `certificate of ${req.domain} refused: ${why}; policy requires an authenticated peer` };
    }
    const cipher = s.getCipher();
    return {
      facts: {
        peer: `${s.remoteAddress}:${s.remotePort}`,
        tls: { version: s.getProtocol() ?? "TLS", cipher: cipher?.standardName ?? cipher?.name },
        certIdentities: ids,
        certificate: valid ? "valid" : hasCert ? "untrusted" : "none",
        localCertIdentities: localNames.includes(req.from) ? localNames : [],
      },
    };
  };

  const secure = (socket: Socket | undefined, req: EgressRequest): Promise<TLSSocket> =>
    new Promise((resolve, reject) => {
      const opts = {
        servername: req.domain, cert: config.cert, key: config.key, ...(config.ca ? { ca: config.ca } : {}),
        rejectUnauthorized: false, ALPNProtocols: req.tls === "direct" ? ["xmpp-server"] : undefined,
      };
      const s = socket ? tlsConnect({ ...opts, socket }) : tlsConnect({ ...opts, host: req.host, port: req.port });
      const timer = setTimeout(() => s.destroy(new Error(`TLS with ${req.host}:${req.port} timed out`)), EGRESS_CONNECT_TIMEOUT_MS);
      s.once("secureConnect", () => (clearTimeout(timer), resolve(s)));
      s.once("error", (e) => (clearTimeout(timer), reject(e)));
    });

  const plain = (req: EgressRequest): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const s = netConnect({ host: req.host, port: req.port, noDelay: true });
      const timer = setTimeout(() => s.destroy(new Error(`connect to ${req.host}:${req.port} timed out`)), EGRESS_CONNECT_TIMEOUT_MS);
      s.once("connect", () => (clearTimeout(timer), resolve(s)));
      s.once("error", (e) => (clearTimeout(timer), reject(e)));
    });

  server.on("upgrade", (httpReq: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => {});
    if (!tokenOk(httpReq.headers[GATEWAY_TOKEN_HEADER], config.token)) return refuse(socket, 401, "bad or missing X-Edge-Gateway-Token");
    const req = parseEgressRequest(httpReq.headers[EGRESS_HEADER] as string | undefined);
    if (typeof req === "string") return refuse(socket, 400, req);
    if (!config.domains.includes(req.from)) return refuse(socket, 400, `from '${req.from}' is not one of GATEWAY_DOMAINS`);
    const l = log.child({ egress: `${req.from}->${req.domain}`, target: `${req.host}:${req.port}`, tls: req.tls });
    // Dial before answering: a failure is an HTTP error the edge reads as "next target".
    const opened = req.tls === "direct" ? secure(undefined, req) : plain(req);
    opened.then(
      (tcp) => {
        let facts: EgressFacts = { peer: `${tcp.remoteAddress}:${tcp.remotePort}`, tls: null, certIdentities: [], certificate: "none", localCertIdentities: [] };
        if (req.tls === "direct") {
          const j = judge(tcp as TLSSocket, req);
          if ("refused" in j) {
            tcp.destroy();
            l.log("info", "egress refused", { reason: j.refused });
            return refuse(socket, 502, j.refused);
          }
          facts = j.facts;
        }
        const onHeaders = (headers: string[], r: IncomingMessage) => {
          if (r === httpReq) headers.push(`${CONNECTION_HEADER}: ${JSON.stringify(facts)}`);
        };
        wss.on("headers", onHeaders);
        wss.handleUpgrade(httpReq, socket, head, (ws) => {
          wss.off("headers", onHeaders);
          l.log("info", "egress open", { ...facts });
          link(ws, tcp, req, l);
        });
      },
      (err: Error) => {
        l.log("info", "egress connect failed", { error: err.message });
        refuse(socket, 502, `${req.host}:${req.port}: ${err.message}`);
      },
    );
  });

  function link(ws: WebSocket, first: Socket, req: EgressRequest, l: Logger): void {
    let tcp: Socket = first;
    let upgrading = false;
    const entry = { ws, tcp };
    const debug = l.enabled("debug");
    live.add(entry);
    const pipe = (s: Socket) => {
      s.on("data", (chunk: Buffer) => {
        if (debug) l.log("debug", "egress peer data", { data: chunk.toString("utf8").slice(0, 2000) });
        if (ws.readyState === ws.OPEN) ws.send(chunk, { binary: true });
      });
      s.on("close", () => {
        if (upgrading && s === first) return;
        live.delete(entry);
        if (ws.readyState === ws.OPEN) ws.close(1000, "peer closed");
      });
      s.on("error", (e) => l.log("debug", "egress tcp error", { error: e.message }));
    };
    pipe(tcp);
    ws.on("message", (data, isBinary) => {
      if (isBinary) {
        if (debug) l.log("debug", "egress edge data", { data: String(data).slice(0, 2000) });
        tcp.write(data as Buffer);
        return;
      }
      let ctl: EgressControl;
      try {
        ctl = JSON.parse(String(data)) as EgressControl;
      } catch {
        return ws.close(1003, "control frames are JSON");
      }
      if (ctl.op !== "starttls" || upgrading || req.tls !== "starttls") return ws.close(1008, "unexpected control frame");
      // RFC 6120 §5.4.3.3: TLS on the same TCP connection, after the peer's <proceed/>.
      upgrading = true;
      tcp.removeAllListeners("data");
      secure(tcp, req).then(
        (s) => {
          const j = judge(s, req);
          if ("refused" in j) {
            l.log("info", "egress starttls refused", { reason: j.refused });
            ws.send(JSON.stringify({ op: "tls", ok: false, reason: j.refused } satisfies EgressControl));
            s.destroy();
            ws.close(1000, "tls refused");
            return;
          }
          tcp = s;
          entry.tcp = s;
          upgrading = false;
          pipe(s);
          l.log("info", "egress tls", { ...j.facts });
          ws.send(JSON.stringify({ op: "tls", ok: true, ...j.facts } satisfies EgressControl));
        },
        (err: Error) => {
          l.log("info", "egress starttls failed", { error: err.message });
          ws.send(JSON.stringify({ op: "tls", ok: false, reason: err.message } satisfies EgressControl));
          ws.close(1000, "tls failed");
        },
      );
    });
    ws.on("close", (code, reason) => {
      l.log("info", "egress closed", { code, reason: reason.toString() });
      live.delete(entry);
      tcp.end();
      setTimeout(() => tcp.destroy(), 5000).unref();
    });
    ws.on("error", () => {});
  }

  const bound = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, config.host, () => resolve((server.address() as { port: number }).port));
  });
  log.log("info", "egress listening", { host: config.host, port: bound });
  return {
    port: bound,
    links: () => live.size,
    async close() {
      for (const e of live) {
        e.ws.close(1001, "gateway shutting down");
        e.tcp.destroy();
      }
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
