// Deadlines for every outbound call the edge makes over HTTP or RPC (issue 10.5: a webhook that never
// answered held a session's delivery queue, and its alarm, forever). Two mechanisms, both always:
// AbortSignal.timeout cancels a fetch (and the body it is reading) where the runtime honours it, and
// a race rejects at the deadline whatever the callee does, for calls that cannot be aborted (JS RPC
// to a service binding or a Durable Object). A call that misses its deadline is a failed attempt.

import type { FetchLike } from "../../src/resolve/doh.js";

export class DeadlineError extends Error {
  constructor(what: string, ms: number, knob?: string) {
    super(`${what} gave no answer within ${ms} ms${knob ? ` (${knob})` : ""}`);
    this.name = "DeadlineError";
  }
}

/** `p`, or a DeadlineError after `ms`. A late settlement of `p` is ignored (and never unhandled). */
export function withDeadline<T>(call: PromiseLike<T>, ms: number, what: string, knob?: string): Promise<T> {
  // Promise.resolve: an RPC result is a thenable, not necessarily a Promise with catch().
  const p = Promise.resolve(call);
  p.catch(() => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(what, ms, knob)), ms);
  });
  return Promise.race([p, expired])
    .catch((err: unknown) => {
      // AbortSignal.timeout (same deadline) usually fires first: say what it means.
      if ((err as Error)?.name === "TimeoutError") throw new DeadlineError(what, ms, knob);
      throw err;
    })
    .finally(() => clearTimeout(timer));
}

/** Merges a deadline's signal into a fetch init. */
export function timed<I extends object>(init: I, ms: number): I & { signal: AbortSignal } {
  return { ...init, signal: AbortSignal.timeout(ms) };
}

/**
 * `fetch` for the DoH resolver (src/resolve/doh.ts): the request and the JSON body it reads share one
 * deadline of `ms`.
 */
export function dohFetch(ms: number): FetchLike {
  return async (url, init) => {
    const start = Date.now();
    const res = await withDeadline(fetch(url, timed(init, ms)), ms, "the DoH resolver", "DOH_TIMEOUT_MS");
    return {
      ok: res.ok,
      status: res.status,
      json: () => withDeadline(res.json(), Math.max(1, ms - (Date.now() - start)), "the DoH resolver's answer", "DOH_TIMEOUT_MS"),
    };
  };
}
