// The harness dialling a WebSocket S2S endpoint directly (XEP-0468), for benchmarks against a running
// edge (wrangler dev / unstable_startWorker), where no workerd test is there to relay.

import WebSocket from "ws";
import type { HarnessPeer, Job } from "./peer.js";
import { framedWire } from "./wire.js";

export function dialWebSocket(peer: HarnessPeer, job: Job, url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, "xmpp");
    const wire = framedWire((t) => ws.send(t), () => ws.close());
    ws.on("open", () => {
      peer.runJob(job, wire);
      resolve(ws);
    });
    ws.on("message", (data) => wire.receive(data.toString()));
    ws.on("close", () => wire.ended());
    ws.on("error", reject);
  });
}
