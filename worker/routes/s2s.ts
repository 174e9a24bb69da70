// GET /xmpp-s2s: WebSocket S2S (XEP-0468, RFC 7395 framing, subprotocol "xmpp"). Each connection is
// one S2S stream, accepted with the Hibernation API by a StreamSession Durable Object: the one of
// the client address for a direct peer (its streams share it), a new one named by a fresh stream id
// for a gateway connection or a request without a client address, the link's for the gateway's
// multiplexed link (src/gateway-contract.ts).

import { Hono } from "hono";
import { edgeConfig } from "../../durable-objects/lib/config.js";
import type { Env } from "../../durable-objects/env.js";
import { ProblemError } from "../problem.js";
import { newStreamId, toHex } from "../../src/types.js";
import { peerAddressStub, streamSessionStub } from "../../durable-objects/lib/stubs.js";
import { addressKey } from "../../src/address-key.js";
import {
  CONNECTION_HEADER,
  GATEWAY_TOKEN_HEADER,
  STREAM_ID_HEADER,
  TRUSTED_CONNECTION_HEADER,
  connectionInfo,
} from "../../durable-objects/lib/connection-info.js";

export const s2sRoutes = new Hono<{ Bindings: Env }>();

/** The StreamSession name for the direct streams of client address `slot` (32 hex, like a stream id). */
async function addressHost(slot: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`xmpp-s2s address ${slot}`)));
  return toHex(digest.slice(0, 16));
}

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

  let streamId: string = newStreamId();
  // Issue 10 item 3: unauthenticated direct WebSocket streams per client address are capped
  // (MAX_UNAUTHENTICATED_STREAMS_PER_IP); refused before the upgrade, so a refusal costs no Durable
  // Object. The gateway's link is not counted: it carries many peers, each counted by the gateway.
  if (check.info.transport === "websocket" && check.info.peer) {
    const slot = addressKey(check.info.peer);
    // The direct streams of one client address share one StreamSession (durable-objects/
    // stream-session.ts): named from the address, each stream `<that name>.<stream>`.
    streamId = `${await addressHost(slot)}.${streamId}`;
    if (!(await peerAddressStub(c.env, slot).admit(streamId, config.limits.maxUnauthenticatedPerIp))) {
      throw new ProblemError(429, "Too Many Requests", `${config.limits.maxUnauthenticatedPerIp} unauthenticated streams from this address are open (MAX_UNAUTHENTICATED_STREAMS_PER_IP); retry once one has authenticated or closed`);
    }
    check.info.slot = slot;
  }
  const headers = new Headers(c.req.raw.headers);
  headers.delete(CONNECTION_HEADER);
  headers.delete(GATEWAY_TOKEN_HEADER);
  headers.set(TRUSTED_CONNECTION_HEADER, JSON.stringify(check.info));
  headers.set(STREAM_ID_HEADER, streamId);
  return streamSessionStub(c.env, streamId).fetch(new Request(c.req.raw.url, { method: "GET", headers }));
});
