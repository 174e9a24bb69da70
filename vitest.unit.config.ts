import { defineProject } from "vitest/config";

// testTimeout: a time limit only catches a hung test; the 10,000-pair and property tests take seconds
// on an idle 2-core machine and several times that when the machine is shared, so 5 s (the default)
// failed them for load, not for behaviour.
export default defineProject({
  test: { name: "unit", include: ["test/unit/**/*.test.ts"], environment: "node", testTimeout: 60_000 },
});
