// GET /xmpp-s2s: WebSocket S2S (XEP-0468, RFC 7395 framing, subprotocol "xmpp"). Each connection is
// one S2S stream, owned by a new StreamSession Durable Object named by a fresh stream id; the DO
// accepts the socket with the Hibernation API.

import { Hono } from "hono";
import { edgeConfig } from "../../durable-objects/lib/config.js";
import type { Env } from "../../durable-objects/env.js";
import { ProblemError } from "../problem.js";
import { newStreamId } from "../../src/types.js";
import { streamSessionStub } from "../../durable-objects/lib/stubs.js";
import {
  CONNECTION_HEADER,
  GATEWAY_TOKEN_HEADER,
  STREAM_ID_HEADER,
  TRUSTED_CONNECTION_HEADER,
  connectionInfo,
} from "../../durable-objects/lib/connection-info.js";

export const s2sRoutes = new Hono<{ Bindings: Env }>();

s2sRoutes.get("/xmpp-s2s", async (c) => {
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
    throw new ProblemError(426, "Upgrade Required", "GET /xmpp-s2s is a WebSocket endpoint (XEP-0468): send Upgrade: websocket with Sec-WebSocket-Protocol: xmpp", {
      upgrade: "websocket",
    });
  }
  // RFC 7395 §3.2: the client MUST offer the "xmpp" subprotocol; without it we cannot speak framing.
  const offered = (c.req.header("sec-websocket-protocol") ?? "").split(",").map((s) => s.trim());
  if (!offered.includes("xmpp")) {
    throw new ProblemError(400, "Subprotocol required", "Sec-WebSocket-Protocol must include 'xmpp' (RFC 7395 §3.2)");
  }
  const config = await edgeConfig(c.env);
  const check = connectionInfo(c.req.raw, config.gatewayToken);
  if (!check.ok) throw new ProblemError(check.status, check.status === 403 ? "Forbidden" : "Bad gateway header", check.detail);

  const streamId = newStreamId();
  const headers = new Headers(c.req.raw.headers);
  headers.delete(CONNECTION_HEADER);
  headers.delete(GATEWAY_TOKEN_HEADER);
  headers.set(TRUSTED_CONNECTION_HEADER, JSON.stringify(check.info));
  headers.set(STREAM_ID_HEADER, streamId);
  return streamSessionStub(c.env, streamId).fetch(new Request(c.req.raw.url, { method: "GET", headers }));
});
