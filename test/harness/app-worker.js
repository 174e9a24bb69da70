// An operator application for workerd tests, bound to the edge as a service binding (auxiliary worker
// in vitest.workerd.config.ts): the default export takes POST /xmpp/inbound (fetch path), `RpcApp`
// takes deliver(xml) (JS RPC path). Both record what they got; GET/POST /state reads or resets it.
import { WorkerEntrypoint } from "cloudflare:workers";

let received = [];
let status = 204;
let rpcResult = true;
// `hang`: deliver() and POST /xmpp/inbound never answer (a hung application).
let hang = false;
// A long timer, not a bare pending promise: workerd cancels a request whose promise can never settle.
const never = () => new Promise((r) => setTimeout(r, 300_000));

export class RpcApp extends WorkerEntrypoint {
  async deliver(xml) {
    received.push({ via: "rpc", body: xml });
    if (hang) await never();
    return rpcResult;
  }
}

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/xmpp/inbound" && request.method === "POST") {
      received.push({ via: "fetch", body: await request.text(), contentType: request.headers.get("content-type") });
      if (hang) await never();
      return new Response(null, { status });
    }
    if (url.pathname === "/state") {
      if (request.method === "POST") {
        const next = await request.json();
        status = next.status ?? 204;
        rpcResult = next.rpcResult ?? true;
        hang = next.hang === true;
        received = [];
      }
      return Response.json({ received, status, rpcResult, hang });
    }
    return new Response("not found", { status: 404 });
  },
};
