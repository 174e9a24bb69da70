// One error mapper: every error a route throws becomes an RFC 9457 problem+json response.

import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { ConfigError } from "../src/config.js";

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

export function onError(err: Error, c: Context): Response {
  if (err instanceof ProblemError) {
    return problem(c, { title: err.title, status: err.status, detail: err.detail }, err.headers);
  }
  if (err instanceof ConfigError) {
    // The deployment is misconfigured (issue 13): the public learns nothing about it, not even which
    // variable; the exact error is in the Worker's logs once per isolate (durable-objects/lib/config.ts).
    return problem(c, { title: "Service Unavailable", status: 503, detail: "the edge is not configured correctly; its operator can find why in the Worker's logs" }, { "retry-after": "300" });
  }
  if (err instanceof HTTPException) {
    return problem(c, { title: err.message || "HTTP error", status: err.status });
  }
  console.error("unhandled error", err);
  return problem(c, { title: "Internal Server Error", status: 500 });
}
