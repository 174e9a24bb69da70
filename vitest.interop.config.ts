import { defineProject } from "vitest/config";

export default defineProject({
  test: {
    name: "interop",
    include: ["test/interop/**/*.test.ts"],
    environment: "node",
    globalSetup: ["./test/interop/global-setup.ts"],
    // Removes a file's .interop/<run>/ folders when it passed (kept on failure).
    setupFiles: ["./test/interop/run-dirs.ts"],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    fileParallelism: false,
  },
});
