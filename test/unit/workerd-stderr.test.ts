// workerd's internal-error dumps (issue 13: no raw workerd stack in normal operation) become one line.
import { describe, expect, it } from "vitest";
import { workerdStderrFilter } from "../../scripts/lib/workerd-stderr.mjs";

const dump =
  "e = rust/cxx/kj-hyper/ffi.rs:270: failed: TLS handshake failed: invalid peer certificate: UnknownIssuer\n" +
  "stack: /x/bin/workerd@2a6bf10 /x/bin/workerd@655d360; sentryErrorContext = jsgInternalError; wdErrId = o0huqvrst0bav01s9t1r0u51\n";

describe("the workerd stderr filter", () => {
  it("turns an internal error and its native stack into one structured line with the reason and reference", () => {
    const f = workerdStderrFilter(() => Date.UTC(2026, 11, 3));
    const out = f.feed(`before\n${dump}after\n`) + f.flush();
    const lines = out.trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe("before");
    expect(JSON.parse(lines[1]!)).toEqual({
      ts: "2026-12-03T00:00:00.000Z", level: "warn", event: "workerd.internal-error",
      error: "TLS handshake failed: invalid peer certificate: UnknownIssuer", reference: "o0huqvrst0bav01s9t1r0u51",
    });
    expect(lines[2]).toBe("after");
    expect(out).not.toContain("workerd@");
  });

  it("works whatever the chunking, and passes other lines through unchanged", () => {
    const text = `a\n${dump}${dump}b: e = not at start\n`;
    for (let cut = 1; cut < text.length; cut += 7) {
      const f = workerdStderrFilter(() => 0);
      const out = f.feed(text.slice(0, cut)) + f.feed(text.slice(cut)) + f.flush();
      expect(out.split("\n").filter((l: string) => l.includes("workerd.internal-error"))).toHaveLength(2);
      expect(out.startsWith("a\n")).toBe(true);
      expect(out.endsWith("b: e = not at start\n")).toBe(true);
    }
  });

  it("also the 'uncaught exception; exception = ...' dump", () => {
    const f = workerdStderrFilter(() => 0);
    const out = f.feed("uncaught exception; exception = workerd/jsg/value.h:1535: failed: jsg.Error: internal error; reference = abc\nstack: /x/workerd@3a4d9d0 /x/workerd@3a4e7b5\n") + f.flush();
    expect(JSON.parse(out)).toMatchObject({ event: "workerd.internal-error", error: "internal error; reference = abc" });
  });

  it("as wrangler dev prints it: '✘ [ERROR]' prefix, colours, a blank line before the indented stack", () => {
    const f = workerdStderrFilter(() => 0);
    const text =
      "\x1b[31m✘ \x1b[41;31m[\x1b[41;97mERROR\x1b[41;31m]\x1b[0m \x1b[1me = rust/worker/ffi.rs:110: failed: failed to lookup address information: Name or service not known\x1b[0m\n\n" +
      "  stack: /x/bin/workerd@383c3f9 /x/bin/workerd@28a3c60; sentryErrorContext = jsgInternalError; wdErrId = jefd2ss14r3uo8jf1ffseidt\n\nnext\n";
    const out = f.feed(text) + f.flush();
    const lines = out.split("\n").filter((l: string) => l !== "");
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[0]!)).toMatchObject({ error: "failed to lookup address information: Name or service not known", reference: "jefd2ss14r3uo8jf1ffseidt" });
    expect(lines[1]).toBe("next");
  });

  it("with any prefix ending in '; ' (\"Socket proxy disconnected abruptly; e = ...\")", () => {
    const f = workerdStderrFilter(() => 0);
    const out = f.feed("Socket proxy disconnected abruptly; e = rust/worker/ffi.rs:119: failed: failed to lookup address information: Name or service not known\nstack: /x/workerd@282d4f0\n") + f.flush();
    expect(JSON.parse(out)).toMatchObject({ error: "failed to lookup address information: Name or service not known" });
  });

  it("writes an unfinished ordinary line at once, and the rest of it when it comes", () => {
    const f = workerdStderrFilter(() => 0);
    expect(f.feed(" RUN  v4.1.11 ")).toBe(" RUN  v4.1.11 ");
    expect(f.feed("/work/x\nnext")).toBe("/work/x\nnext");
    expect(f.feed(" line\n")).toBe(" line\n");
  });

  it("an 'e = ' line without a stack line after it is written as it was", () => {
    const f = workerdStderrFilter();
    expect(f.feed("e = something\nplain\n") + f.flush()).toBe("e = something\nplain\n");
  });
});
