// One error mapper: every error a route throws becomes an RFC 9457 problem+json response.

import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { ConfigError } from "../src/config.js";
import { log } from "../durable-objects/lib/log.js";

export interface Problem {
  type?: string;
  title: string;
  status: number;
  detail?: string;
  [extra: string]: unknown;
}

export function problem(c: Context, p: Problem, headers?: Record<string, string>): Response {
  return new Response(JSON.stringify({ type: "about:blank", ...p }), {
    status: p.status,
    headers: { "content-type": "application/problem+json", ...headers },
  });
}

/** Thrown by routes for an expected failure with a precise detail. */
export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail?: string,
    readonly headers?: Record<string, string>,
  ) {
    super(detail ?? title);
  }
}

const loggedConfigErrors = new Set<string>();

export function onError(err: Error, c: Context): Response {
  if (err instanceof ProblemError) {
    return problem(c, { title: err.title, status: err.status, detail: err.detail }, err.headers);
  }
  if (err instanceof ConfigError) {
    // The deployment is misconfigured (issue 13): the exact error is logged once per isolate and
    // error; the public learns nothing about it, not even which variable.
    if (!loggedConfigErrors.has(err.message)) {
      loggedConfigErrors.add(err.message);
      log(c.env as Record<string, string>, "error", "config.error", { variable: err.variable, problem: err.problem });
    }
    return problem(c, { title: "Service Unavailable", status: 503, detail: "the edge is not configured correctly; its operator can find why in the Worker's logs" }, { "retry-after": "300" });
  }
  if (err instanceof HTTPException) {
    return problem(c, { title: err.message || "HTTP error", status: err.status });
  }
  // A bug, not an expected failure: one line still, with the stack as a field to find it by.
  log(c.env as Record<string, string>, "error", "request.failed", { method: c.req.method, path: c.req.path, error: err, stack: err.stack });
  return problem(c, { title: "Internal Server Error", status: 500 });
}
