import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineProject } from "vitest/config";
import { filterWrites } from "./scripts/lib/workerd-stderr.mjs";
import { testWranglerConfig } from "./test/harness/wrangler-config.js";
import { harnessPorts } from "./test/harness/ports.js";

// The harness peer (test/harness) listens on free loopback ports chosen here.
const ports = await harnessPorts();

// Test-only bindings: fixed domains and generated-looking tokens. The secret is the XEP-0185
// vector's, so transcripts in tests are checkable by hand.
// workerd's raw internal-error dumps (a native stack per provoked TLS or socket error) as one
// structured line each (scripts/lib/workerd-stderr.mjs): expected errors do not spam the output.
// The pool writes workerd's error-level lines to stderr and the rest (uncaught exceptions) to stdout.
filterWrites(process.stderr);
filterWrites(process.stdout);

export default defineProject({
  plugins: [
    cloudflareTest({
      // Not ./wrangler.toml itself: that would read the developer's .dev.vars (test/harness/wrangler-config.ts).
      wrangler: { configPath: testWranglerConfig("workerd") },
      miniflare: {
        // An operator application behind a service binding (test/harness/app-worker.js), under names
        // other than APP so every other test keeps the built-in local app.
        workers: [{ name: "test-app", modules: true, scriptPath: "./test/harness/app-worker.js", compatibilityDate: "2026-11-01" }],
        serviceBindings: { TEST_APP_FETCH: "test-app", TEST_APP_RPC: { name: "test-app", entrypoint: "RpcApp" } },
        bindings: {
          EDGE_ENV: "development",
          EDGE_DOMAINS: "edge.test,chat.edge.test",
          DIALBACK_SECRET: "test-secret-0123456789abcdef",
          ADMIN_TOKEN: "test-admin-token-0123456789",
          METRICS_TOKEN: "test-metrics-token-0123456789",
          APP_TOKEN: "test-app-token-0123456789ab",
          GATEWAY_TOKEN: "test-gateway-token-012345678",
          // Small, so test/workerd/session-mux.test.ts reaches it (only multiplexed links count).
          MUX_MAX_STREAMS: "3",
          // peer.test is the harness (test/harness/global-setup.ts); nothing listens for unreachable.test.
          S2S_STATIC_ROUTES: `peer.test=127.0.0.1:${ports.s2s},unreachable.test=127.0.0.1:${ports.closed}`,
          // SRV lookups go to the harness's DoH endpoint on loopback, never to the Internet.
          DOH_URL: `http://127.0.0.1:${ports.control}/dns-query`,
        },
      },
    }),
  ],
  test: {
    name: "workerd",
    globalSetup: ["./test/harness/global-setup.ts"],
    include: ["test/workerd/**/*.test.ts"], testTimeout: 30_000,
    // The harness peer is one process shared by every file, with global config and /reset: files
    // running in parallel would change it under each other's feet.
    fileParallelism: false,
  },
});
