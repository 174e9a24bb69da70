// The harness dialling a WebSocket S2S endpoint directly (XEP-0468), for benchmarks against a running
// edge (wrangler dev / unstable_startWorker), where no workerd test is there to relay.
//
// `gateway`: dial as the TCP gateway does (X-Edge-Gateway-Token + X-Edge-Connection asking for
// batched framing); when the edge agrees, frames written in one turn go as one message of at most
// 64 KiB, like the gateway forwarding one TCP read.

import WebSocket from "ws";
import type { HarnessPeer, Job } from "./peer.js";
import { framedWire } from "./wire.js";

export interface GatewayDial {
  token: string;
  batched: boolean;
}

const READ_CHARS = 64 * 1024;

export function dialWebSocket(peer: HarnessPeer, job: Job, url: string, gateway?: GatewayDial): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (gateway) {
      headers["x-edge-gateway-token"] = gateway.token;
      headers["x-edge-connection"] = JSON.stringify({ peer: "127.0.0.1:1", tls: null, certIdentities: [], port: 5269, ...(gateway.batched ? { framing: "batched" } : {}) });
    }
    const ws = new WebSocket(url, "xmpp", { headers });
    let batched = false;
    let out: string[] = [];
    let chars = 0;
    const flush = () => {
      if (out.length > 0) ws.send(out.join(""));
      out = [];
      chars = 0;
    };
    const send = (t: string) => {
      if (!batched) return ws.send(t);
      if (chars + t.length > READ_CHARS) flush();
      if (out.length === 0) setImmediate(flush);
      out.push(t);
      chars += t.length;
    };
    const wire = framedWire(send, () => (flush(), ws.close()));
    ws.on("upgrade", (res) => (batched = res.headers["x-edge-framing"] === "batched"));
    ws.on("open", () => {
      peer.runJob(job, wire);
      resolve(ws);
    });
    ws.on("message", (data) => wire.receive(data.toString()));
    ws.on("close", () => wire.ended());
    ws.on("error", reject);
  });
}
