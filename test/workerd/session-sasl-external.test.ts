// SASL EXTERNAL (RFC 6120 §6, XEP-0178) on an inbound stream from the TCP gateway: the gateway
// verified the peer's client certificate and says so in X-Edge-Connection; the edge offers EXTERNAL,
// authenticates the pair without dialback, restarts the stream with a new id and delivers stanzas.
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { admin, appInbox } from "./helpers.js";

const FRAMING = "urn:ietf:params:xml:ns:xmpp-framing-server";
const SASL = "urn:ietf:params:xml:ns:xmpp-sasl";
const OPEN = `<open xmlns='${FRAMING}' xmlns:db='jabber:server:dialback' from='peer.test' to='edge.test' version='1.0'/>`;

async function gatewaySocket(certIdentities: string[]) {
  const res = await SELF.fetch("https://edge.test/xmpp-s2s", {
    headers: {
      upgrade: "websocket",
      "sec-websocket-protocol": "xmpp",
      "x-edge-gateway-token": "test-gateway-token-012345678",
      "x-edge-connection": JSON.stringify({ peer: "192.0.2.9:5000", tls: { version: "TLSv1.3" }, certIdentities, port: 5269 }),
    },
  });
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  ws.accept();
  const frames: string[] = [];
  ws.addEventListener("message", (e) => frames.push(typeof e.data === "string" ? e.data : new TextDecoder().decode(e.data as ArrayBuffer)));
  const closed = new Promise<void>((r) => ws.addEventListener("close", () => r()));
  const until = async (pred: (f: string) => boolean, from = 0) => {
    const deadline = Date.now() + 5000;
    while (!frames.slice(from).some(pred) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return frames.slice(from).find(pred);
  };
  return { ws, frames, closed, until };
}

const idOf = (open: string | undefined) => /\sid=['"]([^'"]+)['"]/.exec(open ?? "")?.[1];

describe("SASL EXTERNAL through the gateway", () => {
  it("a certificate the gateway verified for peer.test: EXTERNAL offered, success, restart with a new id, stanzas delivered", async () => {
    const s = await gatewaySocket(["peer.test"]);
    s.ws.send(OPEN);
    const first = await s.until((f) => f.startsWith("<open"));
    const features = await s.until((f) => f.includes("features"));
    expect(features).toMatch(/<mechanisms xmlns=["']urn:ietf:params:xml:ns:xmpp-sasl["']><mechanism>EXTERNAL<\/mechanism><\/mechanisms>/);

    s.ws.send(`<auth xmlns='${SASL}' mechanism='EXTERNAL'>=</auth>`);
    expect(await s.until((f) => f.includes("success"))).toMatch(/^<success xmlns=["']urn:ietf:params:xml:ns:xmpp-sasl["']\/>$/);

    // RFC 6120 §6.4.6: the peer opens a new stream; the edge answers with a new stream id.
    const mark = s.frames.length;
    s.ws.send(OPEN);
    const second = await s.until((f) => f.startsWith("<open"), mark);
    expect(idOf(second)).toBeDefined();
    expect(idOf(second)).not.toBe(idOf(first));
    const features2 = await s.until((f) => f.includes("features"), mark);
    expect(features2).not.toContain("EXTERNAL");

    s.ws.send("<message from='a@peer.test' to='b@edge.test' id='sasl-1'><body>by certificate</body></message>");
    expect(await appInbox((x) => x.includes('id="sasl-1"'))).toContain("by certificate");
    // No dialback happened: the operator sees how the pair was authenticated.
    const peer = await (await admin("/peers/peer.test")).json<Record<string, unknown>>();
    expect(JSON.stringify(peer)).toContain("by SASL EXTERNAL");
    // The pair record itself says how it was authenticated (GET /pairs, GET /sessions/{id}).
    type P = { sessionId: string; via: string | null; state: string };
    let pair: P | undefined;
    for (let i = 0; i < 100 && !pair; i++) {
      const items = (await (await admin("/pairs?remote=peer.test&direction=inbound&state=valid")).json<{ items: P[] }>()).items;
      pair = items.find((p) => p.via === "sasl-external");
      if (!pair) await new Promise((r) => setTimeout(r, 20));
    }
    expect(pair).toBeDefined();
    const detail = await (await admin(`/sessions/${pair!.sessionId}`)).json<{ pairs: P[] }>();
    expect(detail.pairs).toContainEqual(expect.objectContaining({ remote: "peer.test", direction: "inbound", state: "valid", via: "sasl-external" }));
    s.ws.close(1000);
  });

  it("bidi asked for after the restart: the application's stanzas to the peer ride this stream (XEP-0288 §2.2)", async () => {
    const s = await gatewaySocket(["peer.test"]);
    s.ws.send(OPEN);
    await s.until((f) => f.includes("features"));
    s.ws.send(`<auth xmlns='${SASL}' mechanism='EXTERNAL'>=</auth>`);
    await s.until((f) => f.includes("success"));
    const mark = s.frames.length;
    s.ws.send(OPEN);
    expect(await s.until((f) => f.includes("features"), mark)).toContain("urn:xmpp:features:bidi");
    s.ws.send("<bidi xmlns='urn:xmpp:bidi'/>");
    s.ws.send("<message from='a@peer.test' to='b@edge.test' id='sasl-bidi-in'><body>in</body></message>");
    expect(await appInbox((x) => x.includes('id="sasl-bidi-in"'))).toBeDefined();
    const sent = await SELF.fetch("https://edge.test/api/v1/stanzas", {
      method: "POST",
      headers: { authorization: "Bearer test-app-token-0123456789ab" },
      body: "<message from='b@edge.test' to='a@peer.test' id='sasl-bidi-out'><body>out</body></message>",
    });
    expect(sent.status).toBe(202);
    expect(await s.until((f) => f.includes("sasl-bidi-out"), mark)).toContain("<body>out</body>");
    s.ws.close(1000);
  });

  it("a certificate for another name: no EXTERNAL offered, and <auth/> anyway is a stream error", async () => {
    const s = await gatewaySocket(["other.test"]);
    s.ws.send(OPEN);
    const features = await s.until((f) => f.includes("features"));
    expect(features).not.toContain("EXTERNAL");
    s.ws.send(`<auth xmlns='${SASL}' mechanism='EXTERNAL'>=</auth>`);
    expect(await s.until((f) => /<(stream:)?error[ >]/.test(f))).toContain("unsupported-stanza-type");
    await s.closed;
  });
});
