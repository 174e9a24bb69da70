// Issue 6: federation between the edge and a real Prosody 0.12, both directions, in plaintext and
// with TLS required (through the gateway's STARTTLS port and its direct TLS port, XEP-0368).
// Inbound: a Prosody user's message reaches the edge's app via DNS SRV -> gateway -> /xmpp-s2s, the
// edge verifying Prosody's dialback key by dialing Prosody with connect() (plaintext), or, over TLS,
// Prosody authenticating with SASL EXTERNAL and the certificate the gateway verified. Outbound: the edge's app
// sends to a Prosody user over connect(); Prosody dials back to our authority through the gateway.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { C2sClient } from "../../scripts/interop/lib/c2s.mjs";
import { startStack, type Stack } from "../../scripts/interop/lib/stack.mjs";
import { PASSWORD } from "../../scripts/interop/lib/topology.mjs";
import { gatewayLog, sendFromEdge, uniqueBody, waitForInbox } from "./helpers.js";

describe.each([
  { label: "plaintext", tls: false, edgeDirectTls: false, clientCert: true },
  { label: "STARTTLS required (gateway 5269)", tls: true, edgeDirectTls: false, clientCert: true },
  { label: "direct TLS (gateway 5270, XEP-0368)", tls: true, edgeDirectTls: true, clientCert: true },
  { label: "STARTTLS, no client certificate asked for: dialback over TLS", tls: true, edgeDirectTls: false, clientCert: false },
])("edge <-> Prosody ($label)", ({ tls, edgeDirectTls, clientCert }) => {
  let stack: Stack;
  let alice: C2sClient;

  beforeAll(async () => {
    stack = await startStack({
      tls, edgeDirectTls, ejabberd: false,
      name: `prosody-${tls ? (edgeDirectTls ? "dtls" : clientCert ? "stls" : "stls-nocert") : "plain"}`,
      ...(clientCert ? {} : { gatewayEnv: { GATEWAY_REQUEST_CLIENT_CERT: "false" } }),
    });
    alice = await C2sClient.login({ host: stack.ip.prosody, port: 5222, jid: `alice@${stack.domains.prosody}`, password: PASSWORD });
  });
  afterAll(async () => {
    await alice?.close();
    await stack?.stop();
  });

  it("delivers a Prosody user's message to the edge's application", async () => {
    const body = uniqueBody("prosody to edge");
    alice.sendMessage(`app@${stack.domains.edge}`, body);
    const item = await waitForInbox(stack, (i) => i.xml.includes(body));
    expect(item.from).toMatch(/^alice@prosody\.test\//);
    expect(item.to).toBe("app@edge.test");
    expect(item.kind).toBe("message");

    const accepted = gatewayLog(stack).filter((e) => e.msg === "accepted");
    expect(accepted.length).toBeGreaterThan(0);
    const secured = gatewayLog(stack).filter((e) => e.msg === "tls established");
    if (tls) {
      expect(secured.length).toBeGreaterThan(0);
      expect(secured.every((e) => e.listener === (edgeDirectTls ? "direct-tls" : "starttls"))).toBe(true);
      const peer = await (await stack.api(`/admin/v1/peers/${stack.domains.prosody}`, {}, stack.tokens.admin)).text();
      if (clientCert) {
        // Prosody presents its certificate; it verifies against the run's CA.
        expect(secured.some((e) => (e.certIdentities as string[]).includes("prosody.test"))).toBe(true);
        // With that certificate the edge offers SASL EXTERNAL (XEP-0178), and Prosody takes it.
        expect(peer).toContain("by SASL EXTERNAL");
      } else {
        // No certificate: Prosody falls back to dialback, and the edge verifies its key by dialing
        // Prosody's authority (connect() with STARTTLS, Prosody's certificate checked against the CA).
        expect(secured.every((e) => (e.certIdentities as string[]).length === 0)).toBe(true);
        expect(peer).not.toContain("by SASL EXTERNAL");
        const metrics = await (await stack.api("/admin/v1/metrics", {}, stack.tokens.admin)).text();
        expect(Number(/dialback_edge_verification_latency_seconds_count\S* (\d+)/.exec(metrics)?.[1] ?? 0)).toBeGreaterThan(0);
      }
    } else {
      expect(secured).toHaveLength(0);
    }
  });

  it("POST /admin/v1/peers/{prosody}/check runs every step against the real Prosody and succeeds", async () => {
    const res = await stack.api(`/admin/v1/peers/${stack.domains.prosody}/check`, { method: "POST" }, stack.tokens.admin);
    expect(res.status).toBe(200);
    const r = (await res.json()) as { ok: boolean; steps: { step: string; ok: boolean; detail: string }[] };
    expect(r.steps.filter((x) => !x.ok), JSON.stringify(r.steps)).toEqual([]);
    const names = r.steps.map((x) => x.step);
    expect(names[0]).toBe("policy");
    expect(names.at(-1)).toBe("dialback");
    // Prosody requires TLS in the TLS runs: the probe negotiates STARTTLS, Prosody's certificate
    // checked against the run's CA by connect(); in plaintext no TLS is offered or needed.
    expect(names.includes("starttls")).toBe(tls);
    expect(r.ok).toBe(true);
  });

  it("delivers the edge application's message to a Prosody user", async () => {
    const body = uniqueBody("edge to prosody");
    const sent = await sendFromEdge(stack,
      `<message xmlns='jabber:client' from='app@${stack.domains.edge}' to='alice@${stack.domains.prosody}' type='chat'><body>${body}</body></message>`);
    expect(sent.status).toBe(202);
    const m = await alice.waitForMessage(body, 30_000);
    expect(m.attrs.from).toBe("app@edge.test");
    expect(m.attrs.type).toBe("chat");
  });
});
