// Request bodies of /admin/v1, checked before anything parses them (issue 10.9): a size limit while
// reading, a nesting-depth limit by a linear scan of the text (a 5,000-deep array used to overflow
// the control plane's stack), JSON only, and no `__proto__` key anywhere (a key JavaScript objects
// treat as their prototype, never data). The routes' zod validators then parse the same text.

import type { MiddlewareHandler } from "hono";
import { ProblemError } from "../problem.js";
import { protoKeyPath } from "../../src/policy/index.js";
import { concatBytes } from "../../src/bytes.js";

/** Largest admin request body: a policy document with ~10,000 rules fits. */
export const MAX_JSON_BODY_BYTES = 1024 * 1024;
/** Deepest JSON nesting (objects and arrays) accepted; a policy document needs 4. */
export const MAX_JSON_DEPTH = 32;

const JSON_TYPE = /^application\/([\w.-]+\+)?json$/i;

/**
 * Does `text` nest objects/arrays deeper than `limit`? Counts brackets outside strings, in one pass
 * without recursion, so it is safe on any input; malformed JSON is left to the parser.
 */
export function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c) i++; // backslash: the next character is escaped
      else if (ch === 0x22) inString = false;
    } else if (ch === 0x22) inString = true;
    else if (ch === 0x5b || ch === 0x7b) {
      if (++depth > limit) return true;
    } else if (ch === 0x5d || ch === 0x7d) depth--;
  }
  return false;
}

async function readBounded(req: Request, max: number): Promise<Uint8Array> {
  const tooLarge = () => new ProblemError(413, "Content Too Large", `the request body exceeds ${max} bytes`);
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > max) throw tooLarge();
  if (!req.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = req.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      void reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  return concatBytes(chunks);
}

/**
 * The body checks, for requests a route will take (`routed`); others go on to the 404/405 answer
 * without their body being read.
 */
export const jsonBodies = (routed: (method: string, path: string) => boolean): MiddlewareHandler => async (c, next) => {
  const method = c.req.method;
  if (method !== "POST" && method !== "PUT" && method !== "PATCH") return next();
  if (!routed(method, new URL(c.req.url).pathname)) return next();
  const bytes = await readBounded(c.req.raw, MAX_JSON_BODY_BYTES);
  if (bytes.byteLength === 0) {
    // PUT and PATCH always change the policy: an empty one must not validate as `{}` (the defaults).
    if (method !== "POST") throw new ProblemError(400, "Missing body", `${method} needs a JSON body (Content-Type: application/json)`);
    c.req.raw = new Request(c.req.raw, { body: null });
    return next();
  }
  const type = (c.req.header("content-type") ?? "").split(";")[0]!.trim();
  if (!JSON_TYPE.test(type)) {
    throw new ProblemError(415, "Unsupported Media Type", `the body must be application/json (or application/merge-patch+json for PATCH), got '${type || "no Content-Type"}'`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new ProblemError(400, "Malformed JSON", "the request body is not valid UTF-8 (RFC 8259 §8.1)");
  }
  if (nestsDeeperThan(text, MAX_JSON_DEPTH)) {
    throw new ProblemError(400, "JSON too deep", `the request body nests objects or arrays deeper than ${MAX_JSON_DEPTH} levels`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ProblemError(400, "Malformed JSON", `the request body is not JSON: ${(err as Error).message}`);
  }
  const proto = protoKeyPath(value);
  if (proto) throw new ProblemError(422, "Invalid request", `${proto}: a key named __proto__ is not accepted`);
  // The validators read the body again: hand them the bytes already read.
  c.req.raw = new Request(c.req.raw, { body: bytes });
  await next();
};
