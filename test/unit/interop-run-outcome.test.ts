// The interop tier keeps a file's .interop/ run folders only when something failed (issue 13).
import { describe, expect, it } from "vitest";
import { passed } from "../interop/run-outcome.js";

describe("a test file's outcome", () => {
  it("passed when every test passed or was skipped", () => {
    expect(passed({ type: "suite", result: { state: "pass" }, tasks: [{ type: "suite", tasks: [{ result: { state: "pass" } }, { mode: "skip", result: { state: "skip" } }] }] })).toBe(true);
  });
  it("failed when a test failed, or a hook failed its suite (beforeAll: the servers did not start)", () => {
    expect(passed({ tasks: [{ type: "suite", tasks: [{ result: { state: "pass" } }, { result: { state: "fail" } }] }] })).toBe(false);
    expect(passed({ tasks: [{ type: "suite", result: { state: "fail", errors: [new Error("beforeAll")] }, tasks: [{ result: { state: "skip" } }] }] })).toBe(false);
  });
});
