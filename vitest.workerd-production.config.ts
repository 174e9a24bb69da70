import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineProject } from "vitest/config";
import { harnessPorts, PRODUCTION_PORTS_ENV } from "./test/harness/ports.js";

// The edge as deployed (EDGE_ENV=production) against its own harness peer: for what development mode
// relaxes, i.e. outbound targets in private address space (issue 10 defect 7). Only peer.test is a
// static route; everything else is resolved through the harness's DoH endpoint.
const ports = await harnessPorts(PRODUCTION_PORTS_ENV);

export default defineProject({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          EDGE_ENV: "production",
          EDGE_DOMAINS: "edge.test,chat.edge.test",
          DIALBACK_SECRET: "test-secret-0123456789abcdef",
          ADMIN_TOKEN: "test-admin-token-0123456789",
          APP_TOKEN: "test-app-token-0123456789ab",
          GATEWAY_TOKEN: "test-gateway-token-012345678",
          S2S_STATIC_ROUTES: `peer.test=127.0.0.1:${ports.s2s}`,
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
