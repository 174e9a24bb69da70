// What the edge knows about the transport under an inbound stream. For a direct WebSocket it is the
// Cloudflare edge's view (client address, TLS of the wss connection). Behind the TCP ingress gateway
// (issue 6) the gateway tells us, in two headers that are believed only with the shared token:
//
//   X-Edge-Gateway-Token: <GATEWAY_TOKEN>
//   X-Edge-Connection:    {"peer":"203.0.113.5:40212","tls":{"version":"TLSv1.3","cipher":"TLS_AES_128_GCM_SHA256"},
//                          "certIdentities":["example.org"],"port":5269}
//
// A request carrying X-Edge-Connection without the right token is refused (403): it is a spoofing
// attempt, or a misconfigured gateway, either way not something to guess about.
//
// `"framing":"batched"` in X-Edge-Connection asks for several complete RFC 7395 frames per WebSocket
// message (src/xml/framing.ts); the edge agrees by answering the upgrade with `X-Edge-Framing:
// batched`, and a gateway that does not see it sends one frame per message, as any XEP-0468 peer.

//
// `"signals":["authenticated"]` asks the edge to tell the gateway when the stream is authenticated
// (a control frame: src/gateway-contract.ts, where the header names live too, shared with gateway/).

import { z } from "zod";
import { CONNECTION_HEADER, GATEWAY_TOKEN_HEADER } from "../../src/gateway-contract.js";
import type { Domain } from "../../src/types.js";

export { CONNECTION_HEADER, FRAMING_HEADER, GATEWAY_TOKEN_HEADER } from "../../src/gateway-contract.js";
/** Set by the route for the DO only (the DO is reachable only through the Worker). */
export const TRUSTED_CONNECTION_HEADER = "x-edge-trusted-connection";
export const STREAM_ID_HEADER = "x-edge-stream-id";

export const connectionInfoSchema = z.object({
  peer: z.string().max(200).optional(),
  tls: z.object({ version: z.string().max(40), cipher: z.string().max(200).optional() }).nullable().optional(),
  certIdentities: z.array(z.string().max(253)).max(100).optional(),
  port: z.number().int().min(1).max(65535).optional(),
  framing: z.enum(["batched"]).optional(),
  // Unknown signals are ignored (a newer gateway may ask for more than this edge knows).
  signals: z.array(z.string().max(40)).max(10).optional(),
  // The hosted domain the connection can only be for (TLS SNI, or the gateway's only domain).
  local: z.string().max(253).optional(),
  // A multiplexed link (src/gateway-contract.ts): its channels each carry their own connection info.
  mux: z.boolean().optional(),
});

export interface ConnectionInfo {
  transport: "websocket" | "gateway-tcp";
  peer: string | undefined;
  /** TLS under the stream: the wss connection, or the gateway's TCP TLS. */
  tls: { version: string; cipher?: string } | null;
  /** Identities from a client certificate the gateway verified (for `trusted` / SASL EXTERNAL). */
  certIdentities: string[];
  /** The gateway's messages may hold several frames (see the top of this file). */
  batched?: boolean;
  /** The gateway asked for the authenticated control frame (src/gateway-contract.ts). */
  signalAuthenticated?: boolean;
  /**
   * The hosted domain the gateway says the connection can only be for (TLS SNI, or its only
   * domain): taken for a pre-1.0 stream header without 'to' (TransportInfo.impliedLocal).
   */
  local?: string;
  /**
   * A direct WebSocket peer's address key (src/address-key.ts) whose PeerAddress slot this
   * unauthenticated stream holds; the session gives it back once authenticated or ended.
   */
  slot?: string;
  /** A multiplexed gateway link (src/gateway-contract.ts): streams arrive as channels on it. */
  mux?: boolean;
}

export function directConnectionInfo(req: Request): ConnectionInfo {
  const cf = (req as Request & { cf?: { tlsVersion?: string; tlsCipher?: string } }).cf;
  const secure = new URL(req.url).protocol === "https:";
  return {
    transport: "websocket",
    peer: req.headers.get("cf-connecting-ip") ?? undefined,
    tls: secure ? { version: cf?.tlsVersion ?? "unknown", ...(cf?.tlsCipher ? { cipher: cf.tlsCipher } : {}) } : null,
    certIdentities: [],
  };
}

/** Constant-time string equality (token checks). */
export function safeEqual(a: string, b: string): boolean {
  const ea = new TextEncoder().encode(a);
  const eb = new TextEncoder().encode(b);
  let diff = ea.length ^ eb.length;
  for (let i = 0; i < Math.max(ea.length, eb.length); i++) diff |= (ea[i] ?? 0) ^ (eb[i] ?? 0);
  return diff === 0;
}

export type GatewayCheck = { ok: true; info: ConnectionInfo } | { ok: false; status: 400 | 403; detail: string };

export function connectionInfo(req: Request, gatewayToken: string | undefined): GatewayCheck {
  const raw = req.headers.get(CONNECTION_HEADER);
  const token = req.headers.get(GATEWAY_TOKEN_HEADER);
  if (raw === null && token === null) return { ok: true, info: directConnectionInfo(req) };
  if (!gatewayToken) return { ok: false, status: 403, detail: "gateway headers sent but GATEWAY_TOKEN is not configured on the edge" };
  if (token === null || !safeEqual(token, gatewayToken)) return { ok: false, status: 403, detail: `${GATEWAY_TOKEN_HEADER} is missing or wrong` };
  if (raw === null) return { ok: false, status: 400, detail: `${CONNECTION_HEADER} is required from the gateway` };
  let parsed;
  try {
    parsed = connectionInfoSchema.safeParse(JSON.parse(raw));
  } catch {
    return { ok: false, status: 400, detail: `${CONNECTION_HEADER} is not JSON` };
  }
  if (!parsed.success) return { ok: false, status: 400, detail: `${CONNECTION_HEADER}: ${parsed.error.issues[0]!.message}` };
  return { ok: true, info: { ...gatewayInfo(parsed.data), ...(parsed.data.mux === true ? { mux: true } : {}) } };
}

/** A gateway connection's info, from X-Edge-Connection or a multiplexed link's `open` (already parsed). */
function gatewayInfo(v: z.infer<typeof connectionInfoSchema>): ConnectionInfo {
  return {
    transport: "gateway-tcp",
    peer: v.peer,
    tls: v.tls ?? null,
    certIdentities: v.certIdentities ?? [],
    ...(v.framing === "batched" ? { batched: true } : {}),
    ...(v.signals?.includes("authenticated") ? { signalAuthenticated: true } : {}),
    ...(v.local ? { local: v.local.toLowerCase() } : {}),
  };
}

/**
 * The info of one channel of a multiplexed link (its `open` control, src/gateway-contract.ts): the
 * same fields as X-Edge-Connection, believed because the link carried the token. A channel is batched
 * and signals authentication by definition. A string says what is wrong.
 */
export function channelInfo(raw: Record<string, unknown>): ConnectionInfo | string {
  const parsed = connectionInfoSchema.safeParse(raw);
  if (!parsed.success) return `open: ${parsed.error.issues[0]!.message}`;
  if (parsed.data.mux) return "open: a channel cannot be a multiplexed link";
  return { ...gatewayInfo(parsed.data), batched: true, signalAuthenticated: true };
}

/**
 * TransportInfo.impliedLocal for an inbound stream (issue 12.3a): the domain the gateway says the
 * connection can only be for when we host it, else the deployment's only hosted domain. The engine
 * uses it only for a pre-1.0 header without 'to' (jabberd2 2.7 without a certificate).
 */
export function impliedLocal(info: ConnectionInfo, hosted: readonly string[]): { impliedLocal?: Domain } {
  if (info.local && hosted.includes(info.local)) return { impliedLocal: info.local as Domain };
  return hosted.length === 1 ? { impliedLocal: hosted[0] as Domain } : {};
}
