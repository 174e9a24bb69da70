// /admin/: the operator's console in the browser (issue 14). Static files bundled with the Worker as
// text modules (wrangler.toml [[rules]]: *.console.js, *.console.css, .html), so it works offline and
// with no CDN; the page calls the same /admin/v1 API with the admin token kept in sessionStorage.
// Every answer carries a strict Content-Security-Policy: only this origin's scripts and styles, no
// inline script, no framing (frame-ancestors 'none'), no form posts elsewhere.

import { Hono } from "hono";
import type { Env } from "../../durable-objects/env.js";
import { ProblemError } from "../problem.js";
import { INDEX_HTML, SOURCES } from "./console-files.js";

export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** The console's files by name under /admin/, with their media types. */
export const CONSOLE_FILES: Record<string, { body: string; type: string }> = Object.fromEntries(
  Object.entries(SOURCES).map(([name, body]) => [name, { body, type: name.endsWith(".css") ? "text/css; charset=utf-8" : "text/javascript; charset=utf-8" }]),
);

const headers = (type: string) => ({
  "content-type": type,
  "content-security-policy": CONSOLE_CSP,
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cache-control": "no-cache",
});

export const consoleRoutes = new Hono<{ Bindings: Env }>();

consoleRoutes.get("/admin", (c) => c.redirect("/admin/", 301));
consoleRoutes.get("/admin/", () => new Response(INDEX_HTML, { headers: headers("text/html; charset=utf-8") }));
consoleRoutes.get("/admin/:file{[a-z]+\\.console\\.(?:js|css)}", (c) => {
  const f = CONSOLE_FILES[c.req.param("file")];
  if (!f) throw new ProblemError(404, "Not Found", `no console file ${c.req.param("file")}`);
  return new Response(f.body, { headers: headers(f.type) });
});
