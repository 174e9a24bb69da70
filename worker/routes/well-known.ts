// XEP-0156 host-meta discovery of the WebSocket S2S endpoint (XEP-0468 §2: "Connection details are
// discovered by using XEP-0156", link relation urn:xmpp:alt-connections:s2s-websocket).
//
// What is advertised never comes from the request (issue 10.10: a Host header echoed into the link
// lets anyone who can reach us, or poison a cache in front of us, point peers elsewhere):
// - EDGE_PUBLIC_URL set: its wss://<host>/xmpp-s2s, for a request on a hosted domain (subject that
//   domain) or on EDGE_PUBLIC_URL's own host (every hosted domain, so a deployment is checked at once);
// - else, for a request on a hosted domain, wss://<that domain>/xmpp-s2s;
// - EDGE_ENV=development on a loopback Host (npm start): ws:// (or wss://) to that host and port;
// - any other Host: 404.

import { Hono } from "hono";
import { edgeConfig } from "../../durable-objects/lib/config.js";
import type { Env } from "../../durable-objects/env.js";
import type { EdgeConfig } from "../../src/config.js";
import { ProblemError } from "../problem.js";

export const REL_S2S_WEBSOCKET = "urn:xmpp:alt-connections:s2s-websocket";
const NS_XRD = "http://docs.oasis-open.org/ns/xri/xrd-1.0";

export const wellKnownRoutes = new Hono<{ Bindings: Env }>();

interface Advert {
  /** The hosted domains this answer is about (one: it is the subject). */
  domains: string[];
  href: string;
}

const LOOPBACK = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])$/;

/** What to advertise for a request to `url`, or undefined when its host is not ours. */
export function advert(config: Pick<EdgeConfig, "domains" | "publicWebSocketUrl" | "development">, url: string): Advert | undefined {
  const u = new URL(url);
  const host = u.hostname.toLowerCase().replace(/\.$/, "");
  const hosted = config.domains.find((d) => d === host);
  if (config.publicWebSocketUrl) {
    if (hosted) return { domains: [hosted], href: config.publicWebSocketUrl };
    if (host === new URL(config.publicWebSocketUrl).hostname) return { domains: config.domains, href: config.publicWebSocketUrl };
  }
  // RFC 7395 §3.1 wants the WebSocket URI; XEP-0468 §2 wss, plain ws only for local development,
  // where the port matters and the Host can only be the developer's own.
  if (config.development && LOOPBACK.test(host)) {
    return { domains: hosted ? [hosted] : config.domains, href: `${u.protocol === "http:" ? "ws" : "wss"}://${u.host}/xmpp-s2s` };
  }
  if (hosted) return { domains: [hosted], href: `wss://${hosted}/xmpp-s2s` };
  return undefined;
}

async function advertFor(url: string, env: Env): Promise<Advert> {
  const a = advert(await edgeConfig(env), url);
  if (!a) {
    throw new ProblemError(404, "Not Found", "this host is not one of the edge's hosted domains or its EDGE_PUBLIC_URL");
  }
  return a;
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/"/g, "&quot;");

wellKnownRoutes.get("/.well-known/host-meta", async (c) => {
  const a = await advertFor(c.req.url, c.env);
  const body =
    `<?xml version="1.0" encoding="UTF-8"?>\n<XRD xmlns="${NS_XRD}">\n` +
    (a.domains.length === 1 ? `  <Subject>${esc(a.domains[0]!)}</Subject>\n` : "") +
    `  <Link rel="${REL_S2S_WEBSOCKET}" href="${esc(a.href)}"/>\n` +
    `</XRD>\n`;
  return c.body(body, 200, { "content-type": "application/xrd+xml; charset=utf-8", "access-control-allow-origin": "*" });
});

wellKnownRoutes.get("/.well-known/host-meta.json", async (c) => {
  const a = await advertFor(c.req.url, c.env);
  // XEP-0156 §3.1 JRD form. `subject` only when the host named one domain.
  const body = {
    ...(a.domains.length === 1 ? { subject: a.domains[0]! } : {}),
    links: [{ rel: REL_S2S_WEBSOCKET, href: a.href }],
    properties: { "urn:dialback-edge:domains": a.domains.join(",") },
  };
  return c.json(body, 200, { "access-control-allow-origin": "*" });
});
