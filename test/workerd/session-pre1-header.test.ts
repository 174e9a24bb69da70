// Issue 12.3a at the StreamSession: a pre-XMPP-1.0 header with no 'to' (jabberd2 2.7 without a
// certificate, through the gateway) is taken for the hosted domain the gateway names in
// X-Edge-Connection `local`; this deployment hosts two domains (edge.test, chat.edge.test), so
// without that hint such a header is host-unknown.
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";

const TOKEN = "test-gateway-token-012345678";
// jabberd2's header as the gateway frames it: no to, from or version.
const BARE = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing-server' xmlns:db='jabber:server:dialback'/>";

async function viaGateway(local?: string) {
  const info = { peer: "192.0.2.9:40000", tls: null, certIdentities: [], port: 5269, ...(local ? { local } : {}) };
  const res = await SELF.fetch("https://edge.test/xmpp-s2s", {
    headers: { upgrade: "websocket", "sec-websocket-protocol": "xmpp", "x-edge-gateway-token": TOKEN, "x-edge-connection": JSON.stringify(info) },
  });
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  ws.accept();
  const frames: string[] = [];
  ws.addEventListener("message", (e) => frames.push(String(e.data)));
  const until = async (pred: (f: string) => boolean) => {
    const deadline = Date.now() + 5000;
    while (!frames.some(pred) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    return frames.find(pred);
  };
  return { ws, frames, until };
}

describe("a pre-1.0 stream header without 'to' through the gateway", () => {
  it("is answered for the domain the gateway names (local), pre-1.0, without features", async () => {
    const s = await viaGateway("chat.edge.test");
    s.ws.send(BARE);
    const open = await s.until((f) => f.startsWith("<open"));
    expect(open).toMatch(/from=["']chat\.edge\.test["']/);
    expect(open).not.toMatch(/version=/);
    await new Promise((r) => setTimeout(r, 200));
    expect(s.frames.some((f) => f.includes("features") || f.includes("error"))).toBe(false);
    s.ws.close(1000);
  });

  it("is host-unknown when the gateway names no domain and the edge hosts several", async () => {
    const s = await viaGateway();
    s.ws.send(BARE);
    expect(await s.until((f) => f.includes("host-unknown"))).toContain("host-unknown");
  });

  it("ignores a local the edge does not host", async () => {
    const s = await viaGateway("elsewhere.test");
    s.ws.send(BARE);
    expect(await s.until((f) => f.includes("host-unknown"))).toContain("host-unknown");
  });
});
