// The Worker's bindings, declared once for the Worker, the Durable Objects and the tests.

import type { SecretBinding } from "../src/config.js";
import type { StreamSession } from "../durable-objects/stream-session.js";
import type { RemoteDomain } from "../durable-objects/remote-domain.js";
import type { LocalApp } from "../durable-objects/local-app.js";
import type { VerifyBudget } from "../durable-objects/verify-budget.js";
import type { AuthorityLink } from "../durable-objects/authority-link.js";

export interface Env {
  /** Comma-separated hosted domains. */
  EDGE_DOMAINS: string;
  /** Dialback secret: a Worker secret, or a Secrets Store binding with `.get()`. */
  DIALBACK_SECRET: string | SecretBinding;
  DIALBACK_SECRETS_PREVIOUS?: string;
  /** Bearer token for /admin/v1. */
  ADMIN_TOKEN?: string;
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
  /** Where verified inbound stanzas go when no APP service binding is bound. */
  DELIVERY_WEBHOOK_URL?: string;
  DELIVERY_WEBHOOK_SECRET?: string;
  /** The operator's application, as a service binding (RPC `deliver(xml)` or fetch). */
  APP?: Fetcher & { deliver?: (xml: string) => Promise<unknown> };

  STREAM_SESSION: DurableObjectNamespace<StreamSession>;
  REMOTE_DOMAIN: DurableObjectNamespace<RemoteDomain>;
  /** The default local application (inbox, ping, disco#info) when no APP / webhook is configured. */
  LOCAL_APP: DurableObjectNamespace<LocalApp>;
  CONTROL_PLANE: DurableObjectNamespace;
  /** Singleton "budget": leases for outbound verification work. */
  VERIFY_BUDGET: DurableObjectNamespace<VerifyBudget>;
  /** One per Authoritative Server address: the pooled verification link (XEP-0220 §3). */
  AUTHORITY_LINK: DurableObjectNamespace<AuthorityLink>;
}
