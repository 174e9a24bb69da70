// Issue 12 item 1: the edge's outbound connections through the gateway's egress (S2S_EGRESS), against
// a real Prosody 0.12 whose certificate is self-signed (XEP-0238 type 4: TLS required, dialback,
// no CA-issued certificate). connect() refuses such a certificate (UnknownIssuer), so at policy
// level "encrypted" a direct edge bounces with policy-violation; through the gateway, which checks
// the certificate against the XMPP domain by RFC 6125 and accepts it unauthenticated because the
// level allows it, dialback runs over TLS, both ways: the edge's message reaches Prosody, and
// Prosody's reaches the edge (the edge verifying Prosody's key by dialling Prosody's authority
// through the gateway too).

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { C2sClient } from "../../scripts/interop/lib/c2s.mjs";
import { startStack, type Stack } from "../../scripts/interop/lib/stack.mjs";
import { PASSWORD } from "../../scripts/interop/lib/topology.mjs";
import { gatewayLogWhen, putPolicy, sendFromEdge, uniqueBody, waitForInbox } from "./helpers.js";

describe.each([
  { egress: "gateway" as const },
  { egress: "auto" as const },
])("egress through the gateway (S2S_EGRESS=$egress): self-signed Prosody at level encrypted", ({ egress }) => {
  let stack: Stack;
  let alice: C2sClient;

  beforeAll(async () => {
    stack = await startStack({ tls: true, edgeDirectTls: false, ejabberd: false, prosodySelfSigned: true, egress, name: `egress-${egress}`, logLevel: "debug" });
    await putPolicy(stack, { level: "encrypted" });
    alice = await C2sClient.login({ host: stack.ip.prosody, port: 5222, jid: `alice@${stack.domains.prosody}`, password: PASSWORD });
  });
  afterAll(async () => {
    await alice?.close();
    await stack?.stop();
  });

  it("edge -> Prosody: STARTTLS by the gateway, the self-signed certificate accepted as unauthenticated TLS, the pair authenticated, delivered", async () => {
    const body = uniqueBody(`egress ${egress} out`);
    const sent = await sendFromEdge(stack,
      `<message xmlns='jabber:client' from='app@${stack.domains.edge}' to='alice@${stack.domains.prosody}' type='chat'><body>${body}</body></message>`);
    expect(sent.status).toBe(202);
    const m = await alice.waitForMessage(body, 30_000);
    expect(m.attrs.from).toBe("app@edge.test");
    const log = await gatewayLogWhen(stack, (l) => l.some((e) => e.msg === "egress tls"));
    const tls = log.filter((e) => e.msg === "egress tls");
    expect(tls.length).toBeGreaterThan(0);
    // RFC 6125: judged against the XMPP domain; self-signed -> untrusted, no identities.
    expect(tls[0]).toMatchObject({ egress: "edge.test->prosody.test", certificate: "untrusted", certIdentities: [] });
    expect(String((tls[0]!.tls as { version: string }).version)).toMatch(/^TLSv1\.[23]$/);
  });

  it("Prosody -> edge: the edge verifies Prosody's key through the gateway egress too, delivered", async () => {
    const body = uniqueBody(`egress ${egress} in`);
    alice.sendMessage(`app@${stack.domains.edge}`, body);
    const item = await waitForInbox(stack, (i) => i.xml.includes(body));
    expect(item.from).toMatch(/^alice@prosody\.test\//);
    const peer = await (await stack.api(`/admin/v1/peers/${stack.domains.prosody}`, {}, stack.tokens.admin)).text();
    expect(peer).toContain("encrypted");
  });

  it("a gateway restart drops the link; the edge dials again and delivers (the gateway keeps no state)", async () => {
    await stack.gateway.stop();
    const { startGatewayProcess } = await import("../../scripts/interop/lib/gateway.mjs");
    const gw = await startGatewayProcess({
      dir: stack.dir, ip: stack.ip.gateway, edgeUrl: stack.edge.url.replace(/^http/, "ws") + "/xmpp-s2s",
      token: stack.tokens.gateway, domains: [stack.domains.edge], cert: stack.certs.edge, requireTls: true, env: { GATEWAY_EGRESS_PORT: "5271" }, resolvConf: stack.dns.resolvConf,
    });
    stack.gateway.stop = gw.stop;
    // The helper waits for 5269; the egress port opens just after it (a dial before then bounces).
    const { waitForPort } = await import("../../scripts/interop/lib/proc.mjs");
    await waitForPort(stack.ip.gateway, 5271, { timeoutMs: 10_000 });
    const body = uniqueBody(`egress ${egress} after restart`);
    const sent = await sendFromEdge(stack,
      `<message xmlns='jabber:client' from='app@${stack.domains.edge}' to='alice@${stack.domains.prosody}' type='chat'><body>${body}</body></message>`);
    expect(sent.status).toBe(202);
    const m = await alice.waitForMessage(body, 60_000);
    expect(m.attrs.from).toBe("app@edge.test");
  });
});

describe("no egress (S2S_EGRESS=direct): the same Prosody at level encrypted", () => {
  let stack: Stack;
  let alice: C2sClient;
  beforeAll(async () => {
    stack = await startStack({ tls: true, edgeDirectTls: false, ejabberd: false, prosodySelfSigned: true, name: "egress-direct" });
    await putPolicy(stack, { level: "encrypted" });
    alice = await C2sClient.login({ host: stack.ip.prosody, port: 5222, jid: `alice@${stack.domains.prosody}`, password: PASSWORD });
  });
  afterAll(async () => {
    await alice?.close();
    await stack?.stop();
  });

  it("connect() refuses the certificate: the application's stanza bounces with policy-violation, not remote-server-timeout", async () => {
    const sent = await sendFromEdge(stack,
      `<message xmlns='jabber:client' id='direct-bounce' from='app@${stack.domains.edge}' to='alice@${stack.domains.prosody}'><body>x</body></message>`);
    expect(sent.status).toBe(202);
    const deadline = Date.now() + 30_000;
    let xml = "";
    while (Date.now() < deadline) {
      const res = await stack.api("/api/v1/inbox?limit=100");
      const { items } = (await res.json()) as { items: { xml: string }[] };
      xml = items.find((i) => i.xml.includes("direct-bounce"))?.xml ?? "";
      if (xml) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(xml).toContain('type="error"');
    expect(xml).toContain("policy-violation");
    expect(xml).not.toContain("remote-server-timeout");
  });
});
