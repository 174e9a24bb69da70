// Structured logs (issue 13): the line format, LOG_LEVEL, and which engine actions become which
// operator events.
import { afterEach, describe, expect, it, vi } from "vitest";
import { parse, type Element } from "ltx";
import { ConfigError, loadConfig } from "../../src/config.js";
import { errorMessage, formatLogLine, parseLogLevel } from "../../src/log/format.js";
import { StreamLog, log } from "../../durable-objects/lib/log.js";
import type { ShellAction } from "../../src/engine/index.js";
import type { Domain } from "../../src/types.js";

const ltx = (xml: string): Element => parse(xml) as Element;
const base = { EDGE_DOMAINS: "edge.test", DIALBACK_SECRET: "0123456789abcdef0123" };

afterEach(() => vi.restoreAllMocks());

/** Every line written to the console while `fn` runs, parsed (each must be one JSON object). */
function lines(fn: () => void): Record<string, unknown>[] {
  const out: string[] = [];
  for (const m of ["log", "warn", "error"] as const) vi.spyOn(console, m).mockImplementation((...a: unknown[]) => void out.push(a.map(String).join(" ")));
  fn();
  return out.map((l) => {
    expect(l).not.toContain("\n");
    return JSON.parse(l) as Record<string, unknown>;
  });
}

describe("LOG_LEVEL", () => {
  it("is info by default and accepts debug, info, warn, error in any case", async () => {
    expect((await loadConfig(base)).logLevel).toBe("info");
    expect((await loadConfig({ ...base, LOG_LEVEL: "DEBUG" })).logLevel).toBe("debug");
    expect((await loadConfig({ ...base, LOG_LEVEL: "error" })).logLevel).toBe("error");
  });

  it("refuses anything else with an error naming the variable", async () => {
    const e = await loadConfig({ ...base, LOG_LEVEL: "verbose" }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).message).toBe("LOG_LEVEL: must be one of debug, info, warn, error, got 'verbose'");
  });

  it("writes only lines at or above the level", () => {
    const got = lines(() => {
      for (const level of ["debug", "info", "warn", "error"] as const) log({ LOG_LEVEL: "warn" }, level, `e.${level}`);
    });
    expect(got.map((l) => l.event)).toEqual(["e.warn", "e.error"]);
    expect(lines(() => log({}, "debug", "hidden")).length).toBe(0);
    expect(lines(() => log({ LOG_LEVEL: "debug" }, "debug", "shown")).length).toBe(1);
    expect(parseLogLevel("nonsense")).toBeUndefined();
  });
});

describe("a log line", () => {
  it("is one JSON object with ts, level, event and the fields; errors as one line, never a stack", () => {
    const err = new TypeError("proxy request failed, cannot connect to the specified address\n    at connect (ffi.rs:12)");
    const line = JSON.parse(formatLogLine("warn", "delivery.failed", { attempts: 4, skipped: undefined, error: err }, Date.UTC(2026, 11, 3, 8)));
    expect(line).toEqual({
      ts: "2026-12-03T08:00:00.000Z", level: "warn", event: "delivery.failed", attempts: 4,
      error: "TypeError: proxy request failed, cannot connect to the specified address",
    });
    expect(errorMessage(new Error("plain"))).toBe("plain");
  });
});

describe("engine actions as operator events", () => {
  const local = "edge.test" as Domain;
  const remote = "peer.test" as Domain;
  const pair = (state: "pending" | "valid" | "invalid" | "error", condition?: "remote-server-timeout", other = remote): ShellAction => ({
    type: "pair-state", local, remote: other, direction: "inbound", state, ...(condition ? { condition } : {}),
  });

  it("a dialback verdict: valid / invalid / error, with its latency from the claim", () => {
    vi.useFakeTimers({ now: 1_000_000 });
    try {
      const s = new StreamLog({}, "s1");
      const got = lines(() => {
        s.action(pair("pending"));
        vi.advanceTimersByTime(250);
        s.action(pair("valid"));
        s.action(pair("error", "remote-server-timeout", "other.test" as Domain));
      });
      expect(got).toEqual([
        expect.objectContaining({ level: "info", event: "dialback.verdict", session: "s1", local, remote, direction: "inbound", verdict: "valid", latencyMs: 250 }),
        expect.objectContaining({ level: "warn", event: "dialback.verdict", verdict: "error", condition: "remote-server-timeout", remote: "other.test" }),
      ]);
      // No claim seen by this instance (after hibernation): no latency rather than a wrong one.
      expect(got[1]).not.toHaveProperty("latencyMs");
    } finally {
      vi.useRealTimers();
    }
  });

  it("stream closed with reason and condition, bounce, policy refusal; sends and deliveries are not events", () => {
    const s = new StreamLog({}, "s2");
    const got = lines(() => {
      s.action({ type: "send", data: { kind: "close" } });
      s.action({ type: "deliver", stanza: ltx("<message from='a@peer.test' to='b@edge.test'/>"), from: remote, to: local });
      s.action({ type: "audit", event: "policy-refusal", local, remote, detail: "peer.test is denied by policy" });
      s.action({ type: "bounce", stanza: ltx("<message type='error' from='x@peer.test' to='app@edge.test' id='m1'/>"), condition: "remote-server-not-found" });
      s.action({ type: "closed", by: "peer", error: "host-unknown" });
      s.action({ type: "closed", by: "us" });
    });
    expect(got).toEqual([
      expect.objectContaining({ level: "warn", event: "policy.refusal", session: "s2", remote, detail: "peer.test is denied by policy" }),
      expect.objectContaining({ level: "info", event: "stanza.bounced", condition: "remote-server-not-found", kind: "message", to: "app@edge.test", id: "m1" }),
      expect.objectContaining({ level: "warn", event: "stream.closed", by: "peer", condition: "host-unknown", reason: "the peer sent the stream error host-unknown" }),
      expect.objectContaining({ level: "info", event: "stream.closed", by: "us", reason: "we closed the stream" }),
    ]);
  });
});
