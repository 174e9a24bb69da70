// Types for stack.mjs (used by the TypeScript interop tests).

export interface Proc {
  pid: number;
  running: boolean;
  stop(graceMs?: number): Promise<void>;
}

export interface Stack {
  dir: string;
  ip: { dns: string; prosody: string; ejabberd: string; gateway: string; sink: string; jabberd2: string; farm1: string; farm2: string; farm3: string };
  ca: string;
  tls: boolean;
  bidi: boolean;
  domains: { prosody: string; prosodyDenied: string; ejabberd: string; edge: string; sink: string; jabberd2: string; farm: string };
  prosody?: { proc: Proc; log: string; config: string; stop(): Promise<void> };
  sink?: { proc: Proc; log: string; config: string; stop(): Promise<void> };
  ejabberd?: { proc: Proc; log: string; node: string; ctl(...args: string[]): Promise<string>; stop(): Promise<void> };
  jabberd2?: { dir: string; logs: { s2s: string; sm: string; c2s: string; router: string }; stop(): Promise<void> };
  /** The farm's Prosody nodes (farm.test), each with its user; the third has a wrong dialback_secret. */
  farm?: Array<{ proc: Proc; log: string; config: string; ip: string; user: string; stop(): Promise<void> }>;
  /** inspectorPort: only with `edgeDevtools: true` (wrangler's DevTools inspector, scripts/lib/devtools.mjs). */
  edge: { url: string; port: number; inspectorPort: number | undefined; proc: Proc; stop(): Promise<void> };
  gateway: { proc: Proc; log: string; stop(): Promise<void> };
  tokens: { admin: string; app: string; gateway: string };
  /** The run's certificates (PEM paths), by server. */
  certs: Record<"prosody" | "sink" | "ejabberd" | "edge", { cert: string; key: string; full: string; ca: string }>;
  dns: { resolvConf: string };
  api(path: string, init?: RequestInit, token?: string): Promise<Response>;
  stop(): Promise<void>;
}

export interface StackOptions {
  tls?: boolean;
  bidi?: boolean;
  prosody?: boolean;
  ejabberd?: boolean;
  name?: string;
  edgeDirectTls?: boolean;
  logLevel?: string;
  edgeVars?: Record<string, string>;
  prosodyExtraHosts?: string[];
  /** The host the route of a prosodyExtraHosts vhost names (default: the vhost itself). */
  routeHostOf?: (vhost: string) => string;
  /** More S2S_STATIC_ROUTES entries, `domain=host:port`. */
  extraRoutes?: string[];
  sink?: boolean;
  /** Our jabberd2 2.7 hosting jabberd2.test (user frank). */
  jabberd2?: boolean;
  /** jabberd2 gets a certificate from the run's CA: it offers and uses STARTTLS on s2s. */
  jabberd2Tls?: boolean;
  /** Two Prosody nodes originating for farm.test with the edge's DIALBACK_SECRET; farm.test's SRV is the gateway. */
  farm?: boolean;
  /** The sink also takes XEP-0368 direct TLS s2s on 5270. */
  sinkDirectTls?: boolean;
  extraRecords?: { a?: Array<[string, string]>; srv?: Array<[string, string, number]> };
  /** The A record to publish for `name` instead of `address` (e.g. a delay relay's), or undefined. */
  addressOf?: (name: string, address: string) => string | undefined;
  /** More modules and global config lines for the first Prosody (prosody.test and its extra hosts). */
  prosodyExtraModules?: string[];
  prosodyExtraGlobal?: string | ((ip: Stack["ip"]) => string);
  /** Gateway variables (e.g. GATEWAY_REQUIRE_TLS). */
  gatewayEnv?: Record<string, string>;
  /** Issue 12: S2S_EGRESS through the run's gateway (egress port 5271). */
  egress?: "gateway" | "auto";
  /** Issue 12: Prosody's certificate is self-signed (not from the run's CA). */
  prosodySelfSigned?: boolean;
  /** Issue 12: Prosody requires certificates (s2s_secure_auth, XEP-0238 type 6). */
  prosodySecureAuth?: boolean;
  /** wrangler's DevTools inspector for the edge (heap figures, profiles); off by default. */
  edgeDevtools?: boolean;
}

export function startStack(opts?: StackOptions): Promise<Stack>;
