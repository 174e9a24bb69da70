import { defineConfig } from "vitest/config";

// Three tiers (see test/README in each folder): unit runs the core under plain Node; workerd runs
// the Worker and Durable Objects inside workerd; interop runs real Prosody and ejabberd.
export default defineConfig({
  test: {
    projects: ["./vitest.unit.config.ts", "./vitest.workerd.config.ts", "./vitest.workerd-production.config.ts", "./vitest.browser.config.ts", "./vitest.interop.config.ts"],
  },
});
