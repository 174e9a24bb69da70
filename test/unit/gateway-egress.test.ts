// Issue 12 item 1: the gateway's egress (gateway/egress.ts, contract in src/gateway-contract.ts)
// against a local TLS peer: token and request checks, STARTTLS with RFC 6125 checks against the XMPP
// domain, self-signed accepted only with acceptUntrusted, the client certificate presented.

import { createServer as netServer, type Server, type Socket } from "node:net";
import { TLSSocket } from "node:tls";
import WebSocket from "ws";
import { afterEach, describe, expect, it } from "vitest";
import { selfSignedFor, type Pem } from "../../gateway/dev-cert.js";
import { identitiesFor, namesOf } from "../../src/tls/identity.js";
import { TOKEN, startFixture, until, type Fixture } from "./gateway-fixtures.js";

let fx: Fixture | undefined;
let peer: Server | undefined;
afterEach(async () => {
  await fx?.stop();
  peer?.close();
  fx = peer = undefined;
});

/** A plaintext XMPP-ish peer that answers <starttls/> with <proceed/> and then TLS with `cert`. */
async function startTlsPeer(cert: Pem): Promise<{ port: number; clientCerts: string[] }> {
  const seen: string[] = [];
  peer = netServer((s: Socket) => {
    s.once("data", () => {
      s.write("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
      const t = new TLSSocket(s, { isServer: true, cert: cert.cert, key: cert.key, requestCert: true, rejectUnauthorized: false });
      t.on("secure", () => {
        const c = t.getPeerCertificate();
        if (c?.subjectaltname) seen.push(c.subjectaltname);
        t.write("<stream:stream>");
      });
      t.on("data", (d: Buffer) => t.write(`echo:${d.toString()}`));
      t.on("error", () => {});
    });
  });
  await new Promise<void>((r) => peer!.listen(0, "127.0.0.1", r));
  return { port: (peer.address() as { port: number }).port, clientCerts: seen };
}

function open(port: number, req: object, token = TOKEN): Promise<{ ws?: WebSocket; status?: number; error?: string; facts?: unknown }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/egress`, { headers: { "x-edge-gateway-token": token, "x-edge-egress": JSON.stringify(req) } });
    ws.on("upgrade", (res) => resolve({ ws, facts: JSON.parse(String(res.headers["x-edge-connection"])) }));
    ws.on("unexpected-response", (_r, res) => resolve({ status: res.statusCode, error: String(res.headers["x-edge-egress-error"]) }));
    ws.on("error", () => {});
  });
}

const request = (port: number, acceptUntrusted: boolean) => ({ host: "127.0.0.1", port, tls: "starttls", domain: "peer.test", from: "edge.test", acceptUntrusted });

async function starttls(ws: WebSocket): Promise<Record<string, unknown>> {
  const texts: string[] = [];
  ws.on("message", (d, binary) => (binary ? undefined : texts.push(String(d))));
  ws.send(Buffer.from("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"), { binary: true });
  await new Promise((r) => setTimeout(r, 100));
  ws.send(JSON.stringify({ op: "starttls" }));
  await until(() => texts.length > 0, "the tls control frame");
  return JSON.parse(texts[0]!) as Record<string, unknown>;
}

describe("gateway egress", () => {
  it("refuses a wrong token (401) and a bad request (400), naming the problem", async () => {
    fx = await startFixture({ GATEWAY_EGRESS_PORT: "0" });
    const port = fx.gateway.ports.egress!;
    expect(await open(port, request(1, false), "wrong-token-wrong-token")).toMatchObject({ status: 401 });
    expect(await open(port, { ...request(1, false), port: 0 })).toMatchObject({ status: 400, error: "port must be 1-65535" });
    expect(await open(port, { ...request(1, false), from: "other.test" })).toMatchObject({ status: 400 });
  });

  it("answers 502 when the peer cannot be reached (the edge tries its next target)", async () => {
    fx = await startFixture({ GATEWAY_EGRESS_PORT: "0" });
    const r = await open(fx.gateway.ports.egress!, request(1, false));
    expect(r.status).toBe(502);
    expect(r.error).toMatch(/ECONNREFUSED/);
  });

  it("STARTTLS to a self-signed peer: refused without acceptUntrusted (level trusted)", async () => {
    fx = await startFixture({ GATEWAY_EGRESS_PORT: "0" });
    const p = await startTlsPeer(await selfSignedFor(["peer.test"]));
    const { ws } = await open(fx.gateway.ports.egress!, request(p.port, false));
    const ctl = await starttls(ws!);
    expect(ctl).toMatchObject({ op: "tls", ok: false });
    expect(String(ctl.reason)).toMatch(/certificate of peer\.test refused/);
  });

  it("STARTTLS to a self-signed peer with acceptUntrusted: unauthenticated TLS, no identities; our certificate presented", async () => {
    fx = await startFixture({ GATEWAY_EGRESS_PORT: "0" });
    const p = await startTlsPeer(await selfSignedFor(["peer.test"]));
    const { ws } = await open(fx.gateway.ports.egress!, request(p.port, true));
    const ctl = await starttls(ws!);
    expect(ctl).toMatchObject({ op: "tls", ok: true, certificate: "untrusted", certIdentities: [], localCertIdentities: ["edge.test"] });
    expect(p.clientCerts[0]).toContain("DNS:edge.test");
    const got: string[] = [];
    ws!.on("message", (d, binary) => binary && got.push(String(d)));
    ws!.send(Buffer.from("<presence/>"), { binary: true });
    await until(() => got.join("").includes("echo:<presence/>"), "bytes through TLS");
  });

  it("STARTTLS to a CA-issued peer certificate for the domain: valid, identities = the domain", async () => {
    fx = await startFixture({ GATEWAY_EGRESS_PORT: "0" });
    // The fixture's GATEWAY_CA is its own test CA: issue the peer's certificate from that one.
    const p = await startTlsPeer(await selfSignedFor(["peer.test"], fx.ca));
    const { ws } = await open(fx.gateway.ports.egress!, request(p.port, false));
    const ctl = await starttls(ws!);
    expect(ctl).toMatchObject({ op: "tls", ok: true, certificate: "valid", certIdentities: ["peer.test"] });
  });
});

describe("RFC 6125 / RFC 7712 identities (src/tls/identity.ts)", () => {
  it("DNS-ID, one-label wildcard, SRV-ID and XmppAddr name the domain; nothing else does", () => {
    expect(identitiesFor("DNS:peer.test", "peer.test")).toEqual(["peer.test"]);
    expect(identitiesFor("DNS:*.example.test", "chat.example.test")).toEqual(["chat.example.test"]);
    expect(identitiesFor("DNS:*.example.test", "a.b.example.test")).toEqual([]);
    expect(identitiesFor("DNS:*.test", "example.test")).toEqual([]);
    expect(identitiesFor("DNS:xmpp.host.test, othername:SRVName:_xmpp-server.peer.test", "peer.test")).toEqual(["peer.test"]);
    expect(identitiesFor("othername:XmppAddr:peer.test", "peer.test")).toEqual(["peer.test"]);
    expect(identitiesFor("DNS:xmpp.host.test", "peer.test")).toEqual([]);
    expect(identitiesFor(undefined, "peer.test")).toEqual([]);
    expect(namesOf("DNS:a.test, othername:SRVName:_xmpps-server.b.test")).toEqual(["a.test", "b.test"]);
  });
});
