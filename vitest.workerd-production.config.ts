import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineProject } from "vitest/config";
import { filterWrites } from "./scripts/lib/workerd-stderr.mjs";
import { testWranglerConfig } from "./test/harness/wrangler-config.js";
import { harnessPorts, PRODUCTION_PORTS_ENV } from "./test/harness/ports.js";

// The edge as deployed (EDGE_ENV=production) against its own harness peer: for what development mode
// relaxes, i.e. outbound targets in private address space (issue 10 defect 7), and for budgets set
// small. Static routes below; everything else is resolved through the harness's DoH endpoint.
const ports = await harnessPorts(PRODUCTION_PORTS_ENV);

// workerd's raw internal-error dumps (a native stack per provoked TLS or socket error) as one
// structured line each (scripts/lib/workerd-stderr.mjs): expected errors do not spam the output.
// The pool writes workerd's error-level lines to stderr and the rest (uncaught exceptions) to stdout.
filterWrites(process.stderr);
filterWrites(process.stdout);

export default defineProject({
  plugins: [
    cloudflareTest({
      // Not ./wrangler.toml itself: that would read the developer's .dev.vars (test/harness/wrangler-config.ts).
      wrangler: { configPath: testWranglerConfig("workerd-production") },
      miniflare: {
        bindings: {
          EDGE_ENV: "production",
          EDGE_DOMAINS: "edge.test,chat.edge.test",
          DIALBACK_SECRET: "test-secret-0123456789abcdef",
          ADMIN_TOKEN: "test-admin-token-0123456789",
          APP_TOKEN: "test-app-token-0123456789ab",
          GATEWAY_TOKEN: "test-gateway-token-012345678",
          // peer.test and budget.test's subdomains share the harness's address; far.other.test names
          // it differently, so it counts as a second authority address.
          S2S_STATIC_ROUTES: [
            `peer.test=127.0.0.1:${ports.s2s}`,
            ...[1, 2, 3, 4].map((i) => `s${i}.budget.test=127.0.0.1:${ports.s2s}`),
            `near.other.test=127.0.0.1:${ports.s2s}`,
            `far.other.test=localhost:${ports.s2s}`,
          ].join(","),
          // Small budgets, so tests reach them with a handful of claims (test/workerd-production/verify-budget.test.ts).
          VERIFY_MAX_PENDING_PER_PARENT: "3",
          VERIFY_MAX_AUTHORITIES_PER_PARENT: "1",
          DOH_URL: `http://127.0.0.1:${ports.control}/dns-query`,
        },
      },
    }),
  ],
  test: {
    name: "workerd-production",
    globalSetup: ["./test/harness/global-setup-production.ts"],
    include: ["test/workerd-production/**/*.test.ts"], testTimeout: 30_000,
    fileParallelism: false,
  },
});
