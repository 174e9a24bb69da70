// The edge as a service binding for the operator's Worker (named entrypoint "EdgeApi"):
//
//   [[services]]
//   binding = "EDGE"
//   service = "dialback-edge"
//   entrypoint = "EdgeApi"
//
//   const { id } = await env.EDGE.sendStanza("<message from='app@example.org' to='u@peer.org'>...</message>")
//
// Same validation and queueing as POST /api/v1/stanzas; a refusal throws an Error whose message is the
// problem detail. Failures after queueing come back as bounced error stanzas through delivery.

import { WorkerEntrypoint } from "cloudflare:workers";
import type { Env } from "../durable-objects/env.js";
import { sendStanza } from "../durable-objects/lib/send.js";

export class EdgeApi extends WorkerEntrypoint<Env> {
  async sendStanza(xml: string): Promise<{ id: string; to: string }> {
    const r = await sendStanza(this.env, xml);
    if (!r.ok) throw new Error(`${r.status}: ${r.detail}`);
    return { id: r.id, to: r.to };
  }
}
