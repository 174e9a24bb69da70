import { defineProject } from "vitest/config";

// The admin console in a real browser (issue 14): Debian's Chromium driven by puppeteer-core against
// the edge under `wrangler dev` and the harness peer (test/browser/stack.ts). Node environment.
export default defineProject({
  test: {
    name: "browser",
    include: ["test/browser/**/*.test.ts"],
    environment: "node",
    testTimeout: 120_000,
    hookTimeout: 180_000,
    fileParallelism: false,
  },
});
