// Edge configuration: read once from the Worker's bindings, validated with zod, with errors that name
// the variable and what is wrong. Runtime-agnostic: takes a plain record of strings.

import { z } from "zod";
import { normalizeDomain, type Domain } from "./types.js";
import type { KeyFormula } from "./dialback/keys.js";
import { DEFAULT_BUDGET, type BudgetLimits } from "./budget/verification-budget.js";
import { DEFAULT_MAX_ATTRIBUTES, DEFAULT_MAX_NAMESPACE_DECLARATIONS } from "./xml/limits.js";
import { LOG_LEVELS, parseLogLevel, type LogLevel } from "./log/format.js";
import { DEFAULT_DOH_URL } from "./resolve/doh.js";
import { webhookKey } from "./delivery/signature.js";

/** S2S_IDLE_SECONDS default: 10 minutes, like the outbound idle close. */
export const DEFAULT_IDLE_SECONDS = 600;

export interface StaticRoute {
  host: string;
  port: number;
}

export interface Limits {
  /** RFC 6120 §13.12: largest stanza we accept, in bytes of UTF-8. */
  maxStanzaBytes: number;
  /** Deepest element nesting inside a stanza. */
  maxDepth: number;
  /** Attributes on one element (namespace declarations included); more is policy-violation. */
  maxAttributes: number;
  /** Namespace declarations on one element; more is policy-violation. */
  maxNamespaceDeclarations: number;
  /** Pending dialback verifications one stream may have at once. */
  maxPendingPerStream: number;
  /** Failed inbound domain pairs one stream may have; past it the stream ends (policy-violation). */
  maxFailedPairs: number;
  /** XEP-0288 routes (verified inbound bidi streams) a RemoteDomain keeps for its domain. */
  maxBidiRoutesPerDomain: number;
  /** Unauthenticated direct WebSocket streams from one client address (IPv4, IPv6 /64) at once. */
  maxUnauthenticatedPerIp: number;
  /** Streams one multiplexed gateway link (one StreamSession DO) may carry (src/gateway-contract.ts). */
  muxMaxStreams: number;
}

export interface EdgeConfig {
  domains: Domain[];
  /** The current dialback secret (resolved: a Secrets Store binding has been read). */
  secret: string;
  previousSecrets: string[];
  adminToken: string | undefined;
  appToken: string | undefined;
  gatewayToken: string | undefined;
  staticRoutes: Map<Domain, StaticRoute>;
  keyFormulas: KeyFormula[];
  limits: Limits;
  /**
   * Issue 11.4: inbound stanzas are committed to a session's delivery queue at most once per this many
   * ms (durable-objects/lib/delivery-queue.ts); 0 commits at the end of every WebSocket message.
   */
  deliveryCommitWindowMs: number;
  /** Outbound verification budget (src/budget/verification-budget.ts, issue 10 defect 4). */
  verifyBudget: BudgetLimits;
  /**
   * EDGE_ENV=development (`wrangler dev`, tests): outbound S2S may also dial loopback and private
   * addresses (src/resolve/target-guard.ts); nothing else is relaxed.
   */
  development: boolean;
  /**
   * EDGE_PUBLIC_URL as the WebSocket S2S endpoint host-meta advertises (`wss://host/xmpp-s2s`), or
   * undefined: then each hosted domain advertises `wss://<domain>/xmpp-s2s` (issue 10.10).
   */
  publicWebSocketUrl: string | undefined;
  /**
   * Issue 12: how outbound S2S connections are made. "direct": connect(); "gateway": through the
   * gateway's egress WebSocket (GATEWAY_EGRESS_URL); "auto": connect() first, the gateway when TLS
   * with connect() fails (a certificate connect() cannot accept, which the gateway can judge by
   * RFC 6125 / RFC 7712 and policy).
   */
  egress: { mode: "direct" | "gateway" | "auto"; url: string | undefined };
  /** Deadlines of outbound HTTP calls, so no hung peer of ours can hold a Durable Object (issue 10.5). */
  timeouts: Timeouts;
  /** S2S_IDLE_SECONDS: an inbound stream without traffic for this long is closed (RFC 6120 §4.9.3.4). */
  idleSeconds: number;
  /** METRICS_TOKEN: reads /admin/v1/metrics only. */
  metricsToken: string | undefined;
  /** DOH_URL, or Cloudflare's DNS JSON API. */
  dohUrl: string;
  /** LOG_LEVEL: the lowest level of structured log line written (src/log/format.ts). */
  logLevel: LogLevel;
}

export interface Timeouts {
  /** One delivery attempt to the APP binding (fetch or RPC) or the webhook: DELIVERY_TIMEOUT_MS. */
  deliveryMs: number;
  /** One DNS-over-HTTPS query: DOH_TIMEOUT_MS. */
  dohMs: number;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    readonly problem: string,
  ) {
    super(`${variable}: ${problem}`);
    this.name = "ConfigError";
  }
}

const domainList = z.string().transform((value, ctx) => {
  const out: Domain[] = [];
  for (const raw of value.split(",").map((s) => s.trim()).filter(Boolean)) {
    const d = strictDomain(raw);
    if (!d) ctx.addIssue({ code: "custom", message: `'${raw}' is not a valid domain name (letters, digits, '-' and '.'; no '_')` });
    else if (!out.includes(d)) out.push(d);
  }
  if (out.length === 0) ctx.addIssue({ code: "custom", message: "must name at least one hosted domain" });
  return out;
});

/**
 * A domain in a variable: a plain DNS name (letters, digits, hyphens; RFC 1123 §2.1), normalized.
 * '_' and '=' are refused before normalizing: '_' is legal in DNS labels but in no host name, and
 * `S2S_STATIC_ROUTES=S2S_STATIC_ROUTES=peer.test=...` must not pass as domain `s2s_static_routes`.
 */
export function strictDomain(raw: string): Domain | undefined {
  if (/[_=]/.test(raw)) return undefined;
  return normalizeDomain(raw);
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/**
 * The host of a static route: a host name, an IPv4 address in dotted-decimal, or an IPv6 address in
 * brackets (RFC 3986 §3.2.2). Returns the host as connect() takes it (IPv6 without brackets).
 */
export function staticRouteHost(raw: string): string | undefined {
  const bracketed = /^\[([0-9A-Fa-f:.]+)\]$/.exec(raw);
  if (bracketed) {
    try {
      return new URL(`http://${raw}/`).hostname.slice(1, -1);
    } catch {
      return undefined;
    }
  }
  if (IPV4.test(raw)) return raw;
  if (/^[0-9.]+$/.test(raw)) return undefined; // 127.1, 1.2.3.4.5, 010.0.0.1: not dotted-decimal IPv4
  return strictDomain(raw);
}

const routeList = z.string().transform((value, ctx) => {
  const routes = new Map<Domain, StaticRoute>();
  for (const entry of value.split(",").map((s) => s.trim()).filter(Boolean)) {
    const m = /^([^=]*)=(.*):([^:\]]*)$/.exec(entry);
    if (!m) {
      ctx.addIssue({ code: "custom", message: `'${entry}' is not domain=host:port` });
      continue;
    }
    const [, rawDomain, rawHost, rawPort] = m as unknown as [string, string, string, string];
    const d = strictDomain(rawDomain);
    const host = staticRouteHost(rawHost);
    const port = /^\d{1,5}$/.test(rawPort) ? Number(rawPort) : 0;
    if (!d) {
      ctx.addIssue({ code: "custom", message: `'${entry}': '${rawDomain}' is not a domain name (letters, digits, '-' and '.'; no '_' or '=')` });
    } else if (host === undefined) {
      ctx.addIssue({ code: "custom", message: `'${entry}': '${rawHost}' is not a host name, an IPv4 address or an [IPv6] address` });
    } else if (port < 1 || port > 65535) {
      ctx.addIssue({ code: "custom", message: `'${entry}': the port must be from 1 to 65535, got '${rawPort}'` });
    } else if (routes.has(d)) {
      ctx.addIssue({ code: "custom", message: `'${entry}': ${d} has a route already` });
    } else {
      routes.set(d, { host, port });
    }
  }
  return routes;
});

const intIn = (min: number, max: number, dflt: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === "") return dflt;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: "custom", message: `must be an integer from ${min} to ${max}, got '${v}'` });
        return dflt;
      }
      return n;
    });

/** An optional URL variable: undefined when unset or blank, else parsed (an issue when not absolute). */
function absoluteUrl(v: string | undefined, ctx: z.RefinementCtx, example: string): URL | undefined {
  if (v === undefined || v.trim() === "") return undefined;
  try {
    return new URL(v.trim());
  } catch {
    ctx.addIssue({ code: "custom", message: `'${v}' is not an absolute URL such as ${example}` });
    return undefined;
  }
}

// The edge's public origin, e.g. https://xmpp.example.org: what host-meta advertises (XEP-0156), so
// a request's Host header never is. The WebSocket endpoint is always /xmpp-s2s on it.
const publicUrl = z
  .string()
  .optional()
  .transform((v, ctx): string | undefined => {
    const u = absoluteUrl(v, ctx, "https://xmpp.example.org");
    if (u === undefined) return undefined;
    if (!["https:", "wss:", "http:", "ws:"].includes(u.protocol)) {
      ctx.addIssue({ code: "custom", message: `must be an https:, wss: or (development only) http: URL, got '${u.protocol}'` });
    } else if (u.username || u.password || u.search || u.hash || (u.pathname !== "/" && u.pathname !== "/xmpp-s2s")) {
      ctx.addIssue({ code: "custom", message: `must be the edge's origin only (no path other than /xmpp-s2s, no query, fragment or credentials), got '${v}'` });
    }
    return `${u.protocol === "https:" || u.protocol === "wss:" ? "wss" : "ws"}://${u.host}/xmpp-s2s`;
  });

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/**
 * An https: URL the edge calls (DOH_URL, DELIVERY_WEBHOOK_URL). `http:` is accepted only for a
 * loopback host (a resolver or receiver on the same machine) and under EDGE_ENV=development, where
 * the check happens in loadConfig (the schema sees one variable at a time).
 */
const httpsUrl = z
  .string()
  .optional()
  .transform((v, ctx): URL | undefined => {
    const u = absoluteUrl(v, ctx, "https://example.org/path");
    if (u === undefined) return undefined;
    if (u.protocol !== "https:" && u.protocol !== "http:") {
      ctx.addIssue({ code: "custom", message: `must be an https: URL, got '${u.protocol}'` });
    } else if (u.username || u.password) {
      ctx.addIssue({ code: "custom", message: "must not carry credentials in the URL" });
    }
    return u;
  });

const secretString = z.string().min(16, "must be at least 16 characters").optional();

// Standard Webhooks (src/delivery/signature.ts): `whsec_<base64>` is the key's bytes, anything else
// its UTF-8; either way at least 16 bytes of key. A bad one used to surface only at the first delivery.
const webhookSecret = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined) return undefined;
    let bytes: number;
    try {
      bytes = webhookKey(v).length;
    } catch {
      ctx.addIssue({ code: "custom", message: "the part after whsec_ is not base64" });
      return v;
    }
    if (bytes < 16) ctx.addIssue({ code: "custom", message: `must give a key of at least 16 bytes, got ${bytes}` });
    return v;
  });

const formulas = z
  .string()
  .optional()
  .transform((v, ctx): KeyFormula[] => {
    if (!v || v.trim() === "") return ["xep0185"];
    const out: KeyFormula[] = [];
    for (const f of v.split(",").map((s) => s.trim())) {
      if (f === "xep0185" || f === "originating-first") out.push(f);
      else ctx.addIssue({ code: "custom", message: `unknown key formula '${f}' (xep0185, originating-first)` });
    }
    return out;
  });

// LOG_LEVEL: debug, info (default), warn or error, case-insensitive.
const logLevel = z
  .string()
  .optional()
  .transform((v, ctx): LogLevel => {
    const level = parseLogLevel(v);
    if (level) return level;
    ctx.addIssue({ code: "custom", message: `must be one of ${LOG_LEVELS.join(", ")}, got '${v}'` });
    return "info";
  });

const schema = z.object({
  EDGE_DOMAINS: domainList,
  DIALBACK_SECRETS_PREVIOUS: z.string().optional(),
  ADMIN_TOKEN: secretString,
  APP_TOKEN: secretString,
  GATEWAY_TOKEN: secretString,
  /** Bearer token that reads /admin/v1/metrics and nothing else (a scraper must not hold ADMIN_TOKEN). */
  METRICS_TOKEN: secretString,
  S2S_STATIC_ROUTES: routeList.optional(),
  DIALBACK_KEY_FORMULAS: formulas,
  MAX_STANZA_BYTES: intIn(1024, 16 * 1024 * 1024, 262144),
  MAX_ELEMENT_DEPTH: intIn(4, 1024, 64),
  // The stream header alone has 8 attributes, 3 of them declarations: lower would refuse every peer.
  MAX_ATTRIBUTES: intIn(16, 65536, DEFAULT_MAX_ATTRIBUTES),
  MAX_NAMESPACE_DECLARATIONS: intIn(4, 65536, DEFAULT_MAX_NAMESPACE_DECLARATIONS),
  MAX_PENDING_DIALBACK: intIn(1, 100000, 1000),
  DELIVERY_COMMIT_WINDOW_MS: intIn(0, 1000, 100),
  MAX_FAILED_PAIRS: intIn(0, 100000, 5),
  MAX_BIDI_ROUTES_PER_DOMAIN: intIn(1, 1000, 8),
  MAX_UNAUTHENTICATED_STREAMS_PER_IP: intIn(1, 1_000_000, 256),
  MUX_MAX_STREAMS: intIn(1, 100_000, 1024),
  EDGE_ENV: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v !== undefined && v !== "production" && v !== "development") {
        ctx.addIssue({ code: "custom", message: `must be production or development, got '${v}'` });
      }
      return v;
    }),
  VERIFY_MAX_PENDING: intIn(1, 1_000_000, DEFAULT_BUDGET.maxPending),
  VERIFY_MAX_AUTHORITIES: intIn(1, 100_000, DEFAULT_BUDGET.maxAuthorities),
  VERIFY_MAX_PENDING_PER_AUTHORITY: intIn(1, 1_000_000, DEFAULT_BUDGET.maxPendingPerAuthority),
  VERIFY_MAX_PENDING_PER_PARENT: intIn(1, 1_000_000, DEFAULT_BUDGET.maxPendingPerParent),
  VERIFY_MAX_AUTHORITIES_PER_PARENT: intIn(1, 100_000, DEFAULT_BUDGET.maxAuthoritiesPerParent),
  VERIFY_RATE_PER_AUTHORITY: intIn(1, 1_000_000, DEFAULT_BUDGET.ratePerAuthority),
  VERIFY_BURST_PER_AUTHORITY: intIn(1, 1_000_000, DEFAULT_BUDGET.burstPerAuthority),
  EDGE_PUBLIC_URL: publicUrl,
  DELIVERY_TIMEOUT_MS: intIn(100, 300_000, 10_000),
  DOH_TIMEOUT_MS: intIn(100, 60_000, 5_000),
  S2S_IDLE_SECONDS: intIn(1, 86_400, DEFAULT_IDLE_SECONDS),
  DOH_URL: httpsUrl,
  DELIVERY_WEBHOOK_URL: httpsUrl,
  DELIVERY_WEBHOOK_SECRET: webhookSecret,
  LOG_LEVEL: logLevel,
  S2S_EGRESS: z.enum(["direct", "gateway", "auto"], { message: "must be direct, gateway or auto" }).optional(),
  GATEWAY_EGRESS_URL: z
    .string()
    .optional()
    .refine((v) => {
      if (v === undefined) return true;
      try {
        const u = new URL(v);
        return (u.protocol === "ws:" || u.protocol === "wss:") && u.hash === "";
      } catch {
        return false;
      }
    }, "must be a ws:// or wss:// URL, e.g. wss://gw.example.org/egress"),
});

/**
 * Every variable the Worker reads, bindings aside (DIALBACK_SECRET may be a Secrets Store binding,
 * APP a service binding): what `npm start` passes from the process environment to `wrangler dev`,
 * and what `npm run deploy` checks. Secrets are the ones to set with `wrangler secret put`.
 */
export const CONFIG_VARIABLES: readonly string[] = ["DIALBACK_SECRET", ...Object.keys(schema.shape)];
export const SECRET_VARIABLES: readonly string[] = [
  "DIALBACK_SECRET", "DIALBACK_SECRETS_PREVIOUS", "ADMIN_TOKEN", "APP_TOKEN", "GATEWAY_TOKEN", "METRICS_TOKEN", "DELIVERY_WEBHOOK_SECRET",
];

/** Variables of `npm start` itself (scripts/dev.mjs), validated the same way before wrangler starts. */
const startSchema = z.object({
  EDGE_PORT: intIn(1, 65535, 8787),
  GATEWAY: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === "" || v === "on") return true;
      if (v === "off") return false;
      ctx.addIssue({ code: "custom", message: `must be on or off, got '${v}'` });
      return true;
    }),
  // wrangler dev's DevTools inspector (scripts/lib/devtools.mjs): off unless asked for, because while
  // it runs with no DevTools attached it keeps every log line of the Worker in memory.
  EDGE_DEVTOOLS: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === "" || v === "off") return false;
      if (v === "on") return true;
      ctx.addIssue({ code: "custom", message: `must be on or off, got '${v}'` });
      return false;
    }),
});
export const START_VARIABLES: readonly string[] = Object.keys(startSchema.shape);

export interface StartOptions {
  port: number;
  gateway: boolean;
  /** EDGE_DEVTOOLS=on: wrangler dev runs its DevTools inspector (the `[d]` key). */
  devtools: boolean;
}

/** `npm start`'s own variables (EDGE_PORT, GATEWAY, EDGE_DEVTOOLS). Throws ConfigError naming the variable. */
export function loadStartOptions(raw: Record<string, string | undefined>): StartOptions {
  const c = parseOrThrow(startSchema, raw);
  return { port: c.EDGE_PORT, gateway: c.GATEWAY, devtools: c.EDGE_DEVTOOLS };
}

function parseOrThrow<T extends z.ZodObject>(s: T, raw: Record<string, unknown>): z.output<T> {
  const strings: Record<string, string | undefined> = {};
  for (const key of Object.keys(s.shape)) {
    const v = raw[key];
    if (v !== undefined && v !== null) strings[key] = typeof v === "string" ? v : String(v);
  }
  const parsed = s.safeParse(strings);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const variable = String(issue.path[0] ?? "config");
    const problem = issue.code === "invalid_type" && strings[variable] === undefined ? "is required" : issue.message;
    throw new ConfigError(variable, problem);
  }
  return parsed.data;
}

/** A Secrets Store binding: `.get()` resolves the secret. */
export interface SecretBinding {
  get(): Promise<string>;
}

export type RawEnv = Record<string, unknown> & {
  DIALBACK_SECRET?: string | SecretBinding;
};

async function readSecret(raw: RawEnv): Promise<string | undefined> {
  const s = raw.DIALBACK_SECRET;
  if (s === undefined || s === null) return undefined;
  if (typeof s === "string") return s;
  if (typeof (s as SecretBinding).get === "function") return (s as SecretBinding).get();
  throw new ConfigError("DIALBACK_SECRET", "must be a string secret or a Secrets Store binding");
}

/** Validates the bindings. Throws ConfigError naming the first bad variable. */
export async function loadConfig(raw: RawEnv): Promise<EdgeConfig> {
  const c = parseOrThrow(schema, raw);
  const secret = await readSecret(raw);
  if (secret === undefined || secret.trim() === "") {
    // No default secret anywhere: a deployment without one must not start (issue #2 §4).
    throw new ConfigError("DIALBACK_SECRET", "is required (wrangler secret put DIALBACK_SECRET)");
  }
  if (secret.length < 16) throw new ConfigError("DIALBACK_SECRET", "must be at least 16 characters");
  const development = c.EDGE_ENV === "development";
  if (c.EDGE_PUBLIC_URL?.startsWith("ws:") && !development) {
    // XEP-0468 §2: peers reach us over wss; plain ws is for a local edge only.
    throw new ConfigError("EDGE_PUBLIC_URL", "must be https: or wss: (http: only with EDGE_ENV=development)");
  }
  for (const [variable, u] of [["DOH_URL", c.DOH_URL], ["DELIVERY_WEBHOOK_URL", c.DELIVERY_WEBHOOK_URL]] as const) {
    if (u?.protocol === "http:" && !development && !LOOPBACK_HOSTS.has(u.hostname)) {
      throw new ConfigError(variable, `must be an https: URL (http: only on a loopback host or with EDGE_ENV=development), got '${u.href}'`);
    }
  }
  if (c.DELIVERY_WEBHOOK_SECRET !== undefined && c.DELIVERY_WEBHOOK_URL === undefined) {
    throw new ConfigError("DELIVERY_WEBHOOK_SECRET", "is set but DELIVERY_WEBHOOK_URL is not: the secret signs webhook deliveries only");
  }
  for (const old of (c.DIALBACK_SECRETS_PREVIOUS ?? "").split(",").map((s) => s.trim()).filter(Boolean)) {
    if (old.length < 16) throw new ConfigError("DIALBACK_SECRETS_PREVIOUS", "each secret must be at least 16 characters");
  }
  const app = raw.APP;
  if (app !== undefined && app !== null && typeof (app as { fetch?: unknown }).fetch !== "function") {
    // A [vars] entry named APP, say: it would shadow nothing and deliver nowhere.
    throw new ConfigError("APP", "must be a service binding ([[services]] binding = \"APP\"), not a variable");
  }
  const egressMode = c.S2S_EGRESS ?? "direct";
  if (egressMode !== "direct" && !c.GATEWAY_EGRESS_URL) throw new ConfigError("GATEWAY_EGRESS_URL", `is required with S2S_EGRESS=${egressMode}`);
  if (egressMode !== "direct" && !c.GATEWAY_TOKEN) throw new ConfigError("GATEWAY_TOKEN", `is required with S2S_EGRESS=${egressMode} (the egress WebSocket is authenticated with it)`);
  if (c.GATEWAY_EGRESS_URL?.startsWith("ws:") && !development) throw new ConfigError("GATEWAY_EGRESS_URL", "must be wss: (ws: only with EDGE_ENV=development)");
  return {
    egress: { mode: egressMode, url: c.GATEWAY_EGRESS_URL },
    domains: c.EDGE_DOMAINS,
    secret,
    previousSecrets: (c.DIALBACK_SECRETS_PREVIOUS ?? "").split(",").map((s) => s.trim()).filter(Boolean),
    adminToken: c.ADMIN_TOKEN,
    appToken: c.APP_TOKEN,
    gatewayToken: c.GATEWAY_TOKEN,
    staticRoutes: c.S2S_STATIC_ROUTES ?? new Map(),
    keyFormulas: c.DIALBACK_KEY_FORMULAS,
    limits: {
      maxStanzaBytes: c.MAX_STANZA_BYTES,
      maxDepth: c.MAX_ELEMENT_DEPTH,
      maxAttributes: c.MAX_ATTRIBUTES,
      maxNamespaceDeclarations: c.MAX_NAMESPACE_DECLARATIONS,
      maxPendingPerStream: c.MAX_PENDING_DIALBACK,
      maxFailedPairs: c.MAX_FAILED_PAIRS,
      maxBidiRoutesPerDomain: c.MAX_BIDI_ROUTES_PER_DOMAIN,
      maxUnauthenticatedPerIp: c.MAX_UNAUTHENTICATED_STREAMS_PER_IP,
      muxMaxStreams: c.MUX_MAX_STREAMS,
    },
    verifyBudget: {
      maxPending: c.VERIFY_MAX_PENDING,
      maxAuthorities: c.VERIFY_MAX_AUTHORITIES,
      maxPendingPerAuthority: c.VERIFY_MAX_PENDING_PER_AUTHORITY,
      maxPendingPerParent: c.VERIFY_MAX_PENDING_PER_PARENT,
      maxAuthoritiesPerParent: c.VERIFY_MAX_AUTHORITIES_PER_PARENT,
      ratePerAuthority: c.VERIFY_RATE_PER_AUTHORITY,
      burstPerAuthority: c.VERIFY_BURST_PER_AUTHORITY,
    },
    deliveryCommitWindowMs: c.DELIVERY_COMMIT_WINDOW_MS,
    development,
    publicWebSocketUrl: c.EDGE_PUBLIC_URL,
    timeouts: { deliveryMs: c.DELIVERY_TIMEOUT_MS, dohMs: c.DOH_TIMEOUT_MS },
    idleSeconds: c.S2S_IDLE_SECONDS,
    metricsToken: c.METRICS_TOKEN,
    dohUrl: c.DOH_URL?.href ?? DEFAULT_DOH_URL,
    logLevel: c.LOG_LEVEL,
  };
}
