// workerd prints every internal error that reaches JavaScript as two raw lines with a native stack:
//
//   e = rust/cxx/kj-hyper/ffi.rs:270: failed: TLS handshake failed: invalid peer certificate: UnknownIssuer
//   stack: /.../workerd@2a6bf10 ...; sentryErrorContext = jsgInternalError; wdErrId = o0huqvrst0bav01s9t1r0u51
//
// while the code only sees "internal error; reference = o0huqvrst0bav01s9t1r0u51" and logs that as one
// structured line (src/log). This filter, for `npm start` and the workerd test tiers, turns each such
// pair into one JSON line of the same shape carrying the real reason and the reference that ties it to
// the code's line. Likewise workerd's "uncaught exception; exception = ..." + "stack: ..." pair. Everything else passes through unchanged, in order.

// Matched after removing colour codes; wrangler prefixes the first line with "✘ [ERROR] " and indents
// the stack line after a blank line.
const ERROR_LINE = /^(?:.*?(?:; |\] |\berror: ))?(?:e = |uncaught exception; exception = )(.*)$/;
const STACK_LINE = /^\s*stack: .*?(?:wdErrId = (\w+))?\s*$/;
const MAYBE_DUMP = /e = |uncaught|stack:|✘|ERROR/;
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

/** workerd's "path/file.rs:270: failed: reason" (or "...c++:12: failed: ...") as the reason alone. */
export function internalErrorReason(text) {
  return text.replace(/^\S+\.(?:rs|c\+\+|h):\d+: (?:failed|overloaded|disconnected): /, "").replace(/^(?:\w+(?:\.\w+)*; )?jsg\.\w+: /, "");
}

/** One structured line for an internal error (same format as src/log/format.ts). */
export function internalErrorLine(text, reference, now = Date.now()) {
  return JSON.stringify({
    ts: new Date(now).toISOString(), level: "warn", event: "workerd.internal-error",
    error: internalErrorReason(text), ...(reference ? { reference } : {}),
  });
}

/**
 * A stateful filter over chunks of workerd's output: feed(chunk) returns what to write now (possibly
 * holding back an incomplete last line or an "e = " line whose "stack:" line has not arrived yet);
 * flush() returns what is still held.
 */
export function workerdStderrFilter(now = () => Date.now()) {
  let partial = "";
  let midLine = false;
  let held; // an error line waiting for its "stack:" line: { line, text, blanks }
  const out = [];
  const line = (l) => {
    const plain = l.replace(ANSI, "");
    if (held !== undefined) {
      // wrangler puts a blank line between the two (and after them)
      if (plain.trim() === "" && held.blanks < 2) return void held.blanks++;
      const stack = STACK_LINE.exec(plain);
      const e = held;
      held = undefined;
      if (stack) return void out.push(internalErrorLine(e.text, stack[1], now()) + "\n");
      out.push(`${e.line}\n` + "\n".repeat(e.blanks));
    }
    const m = ERROR_LINE.exec(plain);
    if (m) held = { line: l, text: m[1].trim(), blanks: 0 };
    else out.push(l + "\n");
  };
  return {
    feed(chunk) {
      let text = String(chunk);
      if (midLine) {
        // the rest of a line already passed through
        const nl = text.indexOf("\n");
        if (nl < 0) return text;
        out.push(text.slice(0, nl + 1));
        text = text.slice(nl + 1);
        midLine = false;
      }
      const lines = (partial + text).split("\n");
      partial = lines.pop();
      for (const l of lines) line(l);
      // An unfinished line that cannot be part of a dump is written at once (progress output).
      if (partial && held === undefined && !MAYBE_DUMP.test(partial.replace(ANSI, ""))) {
        out.push(partial);
        partial = "";
        midLine = true;
      }
      return out.splice(0).join("");
    },
    flush() {
      if (partial) line(partial);
      partial = "";
      if (held !== undefined) out.push(`${held.line}\n` + "\n".repeat(held.blanks)), (held = undefined);
      return out.splice(0).join("");
    },
  };
}

/**
 * Routes a stream (process.stderr.write) through the filter. Held text is written on the next write
 * or after a moment of quiet, so nothing is lost or delayed for long.
 */
export function filterWrites(stream) {
  const filter = workerdStderrFilter();
  const write = stream.write.bind(stream);
  let timer;
  stream.write = (chunk, ...rest) => {
    clearTimeout(timer);
    const text = filter.feed(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
    timer = setTimeout(() => {
      const left = filter.flush();
      if (left) write(left);
    }, 50);
    timer.unref?.();
    const cb = rest.find((r) => typeof r === "function");
    if (text) return write(text, cb);
    if (cb) queueMicrotask(cb);
    return true;
  };
}
