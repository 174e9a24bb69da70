// The gateway's configuration, from the environment. Every variable is documented in
// gateway/README.md; a bad value stops the gateway with an error naming the variable.

import { readFileSync } from "node:fs";
import { totalmem } from "node:os";
import { normalizeDomain } from "../src/types.js";
import { DEFAULT_MAX_ATTRIBUTES, DEFAULT_MAX_NAMESPACE_DECLARATIONS } from "../src/xml/limits.js";

export interface GatewayConfig {
  host: string;
  /** RFC 6120 STARTTLS port (null = off, 0 = any free port). */
  starttlsPort: number | null;
  /** XEP-0368 direct TLS port (null = off, 0 = any free port). */
  directTlsPort: number | null;
  /** Issue 12: the egress WebSocket port the edge dials out through (null = off, the default). */
  egressPort: number | null;
  /** The edge's WebSocket S2S endpoint, e.g. wss://xmpp.example.org/xmpp-s2s. */
  edgeUrl: string;
  /** Shared with the edge (its GATEWAY_TOKEN): makes the edge believe our connection header. */
  token: string;
  /** PEM certificate chain and key presented to peers. */
  cert: string;
  key: string;
  /** PEM CA bundle for verifying peers' client certificates (default: Node's roots + NODE_EXTRA_CA_CERTS). */
  ca: string | undefined;
  /** Ask peers for a client certificate (never required: dialback still works without one). */
  requestClientCert: boolean;
  /** RFC 6120 §5.3.1: whether STARTTLS is mandatory-to-negotiate on the STARTTLS port. */
  requireTls: boolean;
  /**
   * With requireTls false: whether <starttls/> is added to the edge's features on the STARTTLS port.
   * False makes the port plaintext only (XEP-0238 type 1: no TLS offered).
   */
  offerTls: boolean;
  /** Hosted domains; a peer's stream to any other domain gets host-unknown before TLS. */
  domains: string[];
  /** All connections at once, counted from the raw TCP accept on both listeners. */
  maxConnections: number;
  /** Connections at once from one address (IPv4, or IPv6 /64), counted from the raw TCP accept. */
  maxConnectionsPerIp: number;
  /** Unauthenticated connections served at once per address (more wait: maxWaitingPerIp). */
  maxUnauthenticatedPerIp: number;
  /** Connections per address waiting for an unauthenticated slot (more are refused). */
  maxWaitingPerIp: number;
  /** Accept to first element forwarded to the edge (TLS and stream setup included). */
  handshakeTimeoutMs: number;
  /** No bytes either way for this long closes the stream with connection-timeout. */
  idleTimeoutMs: number;
  /** On SIGTERM, time given to streams to close after system-shutdown before sockets are cut. */
  shutdownGraceMs: number;
  maxStanzaBytes: number;
  maxDepth: number;
  /** MAX_ATTRIBUTES, MAX_NAMESPACE_DECLARATIONS: per element, as on the edge (src/xml/limits.ts). */
  maxAttributes: number;
  maxNamespaceDeclarations: number;
  /** Pause reading the other side when this many bytes wait to be written (backpressure). */
  highWaterMark: number;
  /**
   * Carries the connections of one peer address over shared WebSockets to the edge (the multiplexed
   * ingress link, src/gateway-contract.ts); false: one WebSocket per connection.
   */
  mux: boolean;
  /** Channels (connections) open at once on one multiplexed link; the next opens another link. */
  muxStreams: number;
}

export class GatewayConfigError extends Error {
  constructor(readonly variable: string, problem: string) {
    super(`${variable}: ${problem}`);
    this.name = "GatewayConfigError";
  }
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, dflt: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new GatewayConfigError(name, `must be an integer from ${min} to ${max}, got '${raw}'`);
  return n;
}

function bool(env: Env, name: string, dflt: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === "") return dflt;
  if (/^(1|true|yes)$/i.test(raw)) return true;
  if (/^(0|false|no)$/i.test(raw)) return false;
  throw new GatewayConfigError(name, `must be true or false, got '${raw}'`);
}

/** "on"/"off" (or true/false). */
function onOff(env: Env, name: string, dflt: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === "") return dflt;
  if (/^(on|1|true|yes)$/i.test(raw)) return true;
  if (/^(off|0|false|no)$/i.test(raw)) return false;
  throw new GatewayConfigError(name, `must be on or off, got '${raw}'`);
}

function pem(env: Env, name: string, required: boolean): string | undefined {
  const path = env[name];
  if (!path) {
    if (required) throw new GatewayConfigError(name, "is required (path to a PEM file)");
    return undefined;
  }
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new GatewayConfigError(name, `cannot read '${path}': ${(e as Error).message}`);
  }
}

/** Reads the configuration; PEM variables are file paths and are read here. */
export function loadGatewayConfig(env: Env): GatewayConfig {
  const edgeUrl = env.GATEWAY_EDGE_URL ?? "ws://127.0.0.1:8787/xmpp-s2s";
  let url: URL;
  try {
    url = new URL(edgeUrl);
  } catch {
    throw new GatewayConfigError("GATEWAY_EDGE_URL", `not a URL: '${edgeUrl}'`);
  }
  if (url.protocol !== "ws:" && url.protocol !== "wss:") throw new GatewayConfigError("GATEWAY_EDGE_URL", "must be ws:// or wss://");
  const token = env.GATEWAY_TOKEN;
  if (!token || token.length < 16) throw new GatewayConfigError("GATEWAY_TOKEN", "is required, at least 16 characters (the edge's GATEWAY_TOKEN)");
  const rawDomains = env.GATEWAY_DOMAINS ?? env.EDGE_DOMAINS;
  if (!rawDomains) throw new GatewayConfigError("GATEWAY_DOMAINS", "is required (comma-separated hosted domains; EDGE_DOMAINS is used if set)");
  const domains: string[] = [];
  for (const d of rawDomains.split(",").map((s) => s.trim()).filter(Boolean)) {
    const n = normalizeDomain(d);
    if (n === undefined) throw new GatewayConfigError("GATEWAY_DOMAINS", `'${d}' is not a domain name`);
    domains.push(n);
  }
  const requireTls = bool(env, "GATEWAY_REQUIRE_TLS", true);
  const offerTls = bool(env, "GATEWAY_OFFER_TLS", true);
  if (requireTls && !offerTls) throw new GatewayConfigError("GATEWAY_OFFER_TLS", "false needs GATEWAY_REQUIRE_TLS=false (TLS cannot be required without being offered)");
  return {
    host: env.GATEWAY_HOST ?? "127.0.0.1",
    starttlsPort: env.GATEWAY_STARTTLS_PORT === "off" ? null : int(env, "GATEWAY_STARTTLS_PORT", 5269, 0, 65535),
    directTlsPort: env.GATEWAY_DIRECT_TLS_PORT === "off" ? null : int(env, "GATEWAY_DIRECT_TLS_PORT", 5270, 0, 65535),
    egressPort: (env.GATEWAY_EGRESS_PORT ?? "off") === "off" ? null : int(env, "GATEWAY_EGRESS_PORT", 5271, 0, 65535),
    edgeUrl,
    token,
    cert: pem(env, "GATEWAY_CERT", true)!,
    key: pem(env, "GATEWAY_KEY", true)!,
    ca: pem(env, "GATEWAY_CA", false),
    requestClientCert: bool(env, "GATEWAY_REQUEST_CLIENT_CERT", true),
    requireTls,
    offerTls,
    domains,
    maxConnections: int(env, "GATEWAY_MAX_CONNECTIONS", defaultMaxConnections(), 1, 10_000_000),
    maxConnectionsPerIp: int(env, "GATEWAY_MAX_CONNECTIONS_PER_IP", 4096, 1, 10_000_000),
    maxUnauthenticatedPerIp: int(env, "GATEWAY_MAX_UNAUTHENTICATED_PER_IP", 256, 1, 1_000_000),
    maxWaitingPerIp: int(env, "GATEWAY_MAX_WAITING_PER_IP", 256, 0, 1_000_000),
    handshakeTimeoutMs: int(env, "GATEWAY_HANDSHAKE_TIMEOUT_MS", 30_000, 100, 3_600_000),
    idleTimeoutMs: int(env, "GATEWAY_IDLE_TIMEOUT_MS", 900_000, 100, 86_400_000),
    shutdownGraceMs: int(env, "GATEWAY_SHUTDOWN_GRACE_MS", 5_000, 0, 600_000),
    maxStanzaBytes: int(env, "MAX_STANZA_BYTES", 262_144, 1024, 16 * 1024 * 1024),
    maxDepth: int(env, "MAX_ELEMENT_DEPTH", 64, 4, 1024),
    maxAttributes: int(env, "MAX_ATTRIBUTES", DEFAULT_MAX_ATTRIBUTES, 16, 65536),
    maxNamespaceDeclarations: int(env, "MAX_NAMESPACE_DECLARATIONS", DEFAULT_MAX_NAMESPACE_DECLARATIONS, 4, 65536),
    highWaterMark: int(env, "GATEWAY_HIGH_WATER_MARK", 1024 * 1024, 16 * 1024, 256 * 1024 * 1024),
    mux: onOff(env, "GATEWAY_MUX", true),
    muxStreams: int(env, "GATEWAY_MUX_STREAMS", 256, 1, 100_000),
  };
}

/**
 * GATEWAY_MAX_CONNECTIONS by default: what the machine can hold without failing anyone else.
 * Each connection holds two file descriptors (the peer's socket and the WebSocket to the edge), and
 * 256 are kept for everything else (listeners, DNS, logs), so accept() never meets EMFILE, which
 * is what cut a legitimate peer with 0 bytes in issue 10; and each is budgeted 128 KiB of memory
 * (TLS state, the stream reader's current unit, socket buffers: a connection measured ~40 KB
 * idle, more while a stanza is in flight) out of half the machine's RAM. The smaller bound wins.
 */
export function defaultMaxConnections(): number {
  const byFds = Math.floor((openFileLimit() - 256) / 2);
  const byMemory = Math.floor(totalmem() / 2 / (128 * 1024));
  return Math.max(64, Math.min(byFds, byMemory));
}

/** The soft RLIMIT_NOFILE (Node raises it to the hard limit at start); 1024 if it cannot be read. */
function openFileLimit(): number {
  try {
    const line = readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith("Max open files"));
    const soft = line?.split(/\s{2,}/)[1];
    if (soft === "unlimited") return 1_048_576;
    const n = Number(soft);
    return Number.isInteger(n) && n > 0 ? n : 1024;
  } catch {
    return 1024;
  }
}
