import { defineProject } from "vitest/config";

export default defineProject({
  test: {
    name: "interop",
    include: ["test/interop/**/*.test.ts"],
    environment: "node",
    globalSetup: ["./test/interop/global-setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    fileParallelism: false,
  },
});
