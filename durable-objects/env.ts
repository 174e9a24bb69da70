// The Worker's environment. The bindings (Durable Object namespaces) are generated from wrangler.toml
// by `wrangler types` into worker-configuration.d.ts (`npm run types`; a unit test fails when it is
// stale) as the ambient `Cloudflare.Env`, so no module here imports the classes it binds. The
// variables and secrets below are set per deployment (README "Configuration"), so wrangler.toml does
// not declare them and they are typed here, once, for the Worker, the Durable Objects and the tests.

import type { SecretBinding } from "../src/config.js";

export interface EnvVars {
  /** Comma-separated hosted domains. */
  EDGE_DOMAINS: string;
  /** Dialback secret: a Worker secret, or a Secrets Store binding with `.get()`. */
  DIALBACK_SECRET: string | SecretBinding;
  DIALBACK_SECRETS_PREVIOUS?: string;
  /** Bearer token for /admin/v1. */
  ADMIN_TOKEN?: string;
  /** Bearer token that reads GET /admin/v1/metrics only (a scraper must not hold ADMIN_TOKEN). */
  METRICS_TOKEN?: string;
  /** Bearer token for /api/v1 (the operator's application sending stanzas). */
  APP_TOKEN?: string;
  /** Shared with the TCP ingress gateway; authenticates its connection-info header. */
  GATEWAY_TOKEN?: string;
  /** `domain=host:port,...` used instead of DNS for those domains. */
  S2S_STATIC_ROUTES?: string;
  /** Issue 12: direct (default), gateway or auto; and the gateway egress endpoint (ws:// or wss://). */
  S2S_EGRESS?: string;
  GATEWAY_EGRESS_URL?: string;
  /** Accepted key formulas: `xep0185` (default), `originating-first` (MongooseIM). */
  DIALBACK_KEY_FORMULAS?: string;
  MAX_STANZA_BYTES?: string;
  MAX_ELEMENT_DEPTH?: string;
  /** Attributes / namespace declarations per element (defaults 128 / 32); more is policy-violation. */
  MAX_ATTRIBUTES?: string;
  MAX_NAMESPACE_DECLARATIONS?: string;
  MAX_PENDING_DIALBACK?: string;
  MAX_FAILED_PAIRS?: string;
  /** Unauthenticated direct WebSocket streams per client address (default 256); more get HTTP 429. */
  MAX_UNAUTHENTICATED_STREAMS_PER_IP?: string;
  MUX_MAX_STREAMS?: string;
  MAX_BIDI_ROUTES_PER_DOMAIN?: string;
  /** Seconds without traffic from the peer before an inbound stream is closed (default 600). */
  S2S_IDLE_SECONDS?: string;
  DELIVERY_COMMIT_WINDOW_MS?: string;
  /** `development` under `npm start` and tests (outbound may then dial private addresses). */
  EDGE_ENV?: string;
  /** Outbound verification budget (README "Configuration"; src/budget/verification-budget.ts). */
  VERIFY_MAX_PENDING?: string;
  VERIFY_MAX_AUTHORITIES?: string;
  VERIFY_MAX_PENDING_PER_AUTHORITY?: string;
  VERIFY_MAX_PENDING_PER_PARENT?: string;
  VERIFY_MAX_AUTHORITIES_PER_PARENT?: string;
  VERIFY_RATE_PER_AUTHORITY?: string;
  VERIFY_BURST_PER_AUTHORITY?: string;
  /** DNS-over-HTTPS JSON resolver for SRV lookups. */
  DOH_URL?: string;
  /** Deadline of one DoH query in ms (default 5000). */
  DOH_TIMEOUT_MS?: string;
  /** The edge's public origin (https://xmpp.example.org), advertised by host-meta. */
  EDGE_PUBLIC_URL?: string;
  /** Deadline of one delivery attempt to the APP binding or the webhook in ms (default 10000). */
  DELIVERY_TIMEOUT_MS?: string;
  /** Lowest structured log level written: debug, info (default), warn, error. */
  LOG_LEVEL?: string;
  /** Where verified inbound stanzas go when no APP service binding is bound. */
  DELIVERY_WEBHOOK_URL?: string;
  DELIVERY_WEBHOOK_SECRET?: string;
  /** The operator's application, as a service binding (RPC `deliver(xml)` or fetch). */
  APP?: Fetcher & { deliver?: (xml: string) => Promise<unknown> };

}

export interface Env extends EnvVars, Cloudflare.Env {}
