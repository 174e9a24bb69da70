// XEP-0156 host-meta discovery of the WebSocket S2S endpoint (XEP-0468 §2: "Connection details are
// discovered by using XEP-0156", link relation urn:xmpp:alt-connections:s2s-websocket).
// A request for a hosted domain's host answers with that domain's link; any other host (the Worker's
// own hostname, e.g. workers.dev) lists every hosted domain, so one deployment can be checked at once.

import { Hono } from "hono";
import { edgeConfig } from "../config.js";
import type { Env } from "../env.js";

export const REL_S2S_WEBSOCKET = "urn:xmpp:alt-connections:s2s-websocket";
const NS_XRD = "http://docs.oasis-open.org/ns/xri/xrd-1.0";

export const wellKnownRoutes = new Hono<{ Bindings: Env }>();

interface Link {
  domain: string;
  href: string;
}

async function links(url: string, env: Env): Promise<Link[]> {
  const config = await edgeConfig(env);
  const u = new URL(url);
  // RFC 7395 §3.1: the WebSocket URI; XEP-0468 §2 wants wss, plain ws only for local development.
  const scheme = u.protocol === "http:" ? "ws" : "wss";
  const href = `${scheme}://${u.host}/xmpp-s2s`;
  const host = u.hostname.toLowerCase();
  const domains = config.domains.includes(host as never) ? [host] : config.domains;
  return domains.map((domain) => ({ domain, href }));
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/"/g, "&quot;");

wellKnownRoutes.get("/.well-known/host-meta", async (c) => {
  const ls = await links(c.req.url, c.env);
  const body =
    `<?xml version="1.0" encoding="UTF-8"?>\n<XRD xmlns="${NS_XRD}">\n` +
    (ls.length === 1 ? `  <Subject>${esc(ls[0]!.domain)}</Subject>\n` : "") +
    ls.map((l) => `  <Link rel="${REL_S2S_WEBSOCKET}" href="${esc(l.href)}"/>\n`).filter((v, i, a) => a.indexOf(v) === i).join("") +
    `</XRD>\n`;
  return c.body(body, 200, { "content-type": "application/xrd+xml; charset=utf-8", "access-control-allow-origin": "*" });
});

wellKnownRoutes.get("/.well-known/host-meta.json", async (c) => {
  const ls = await links(c.req.url, c.env);
  const hrefs = [...new Set(ls.map((l) => l.href))];
  // XEP-0156 §3.1 JRD form. `subject` only when the host named one domain.
  const body = {
    ...(ls.length === 1 ? { subject: ls[0]!.domain } : {}),
    links: hrefs.map((href) => ({ rel: REL_S2S_WEBSOCKET, href })),
    properties: { "urn:dialback-edge:domains": ls.map((l) => l.domain).join(",") },
  };
  return c.json(body, 200, { "access-control-allow-origin": "*" });
});
