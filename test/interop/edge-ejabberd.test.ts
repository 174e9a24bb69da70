// Issue 6: federation between the edge and a real ejabberd 23.01, both directions, in plaintext and
// with STARTTLS required. ejabberd sends db:verify on a separate short-lived connection and offers
// SASL EXTERNAL even when it cannot verify the peer; the edge must cope with both. Toward the edge,
// over TLS, ejabberd takes the SASL EXTERNAL the edge offers.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { C2sClient } from "../../scripts/interop/lib/c2s.mjs";
import { startStack, type Stack } from "../../scripts/interop/lib/stack.mjs";
import { PASSWORD } from "../../scripts/interop/lib/topology.mjs";
import { gatewayLog, sendFromEdge, uniqueBody, waitForInbox } from "./helpers.js";

describe.each([
  { label: "plaintext", tls: false },
  { label: "STARTTLS required", tls: true },
])("edge <-> ejabberd ($label)", ({ tls }) => {
  let stack: Stack;
  let dave: C2sClient;

  beforeAll(async () => {
    stack = await startStack({ tls, edgeDirectTls: false, prosody: false, name: `ejabberd-${tls ? "tls" : "plain"}` });
    dave = await C2sClient.login({ host: stack.ip.ejabberd, port: 5222, jid: `dave@${stack.domains.ejabberd}`, password: PASSWORD });
  });
  afterAll(async () => {
    await dave?.close();
    await stack?.stop();
  });

  it("delivers an ejabberd user's message to the edge's application", async () => {
    const body = uniqueBody("ejabberd to edge");
    dave.sendMessage(`app@${stack.domains.edge}`, body);
    const item = await waitForInbox(stack, (i) => i.xml.includes(body));
    expect(item.from).toMatch(/^dave@ejabberd\.test\//);
    expect(item.to).toBe("app@edge.test");
    const secured = gatewayLog(stack).filter((e) => e.msg === "tls established");
    expect(secured.length > 0).toBe(tls);
    // Over TLS ejabberd presents its certificate (valid under the run's CA) and authenticates with
    // the SASL EXTERNAL the edge offers it (XEP-0178); in plaintext it uses dialback.
    const peer = await (await stack.api(`/admin/v1/peers/${stack.domains.ejabberd}`, {}, stack.tokens.admin)).text();
    expect(peer.includes("by SASL EXTERNAL")).toBe(tls);
  });

  it("delivers the edge application's message to an ejabberd user", async () => {
    const body = uniqueBody("edge to ejabberd");
    const sent = await sendFromEdge(stack,
      `<message xmlns='jabber:client' from='app@${stack.domains.edge}' to='dave@${stack.domains.ejabberd}' type='chat'><body>${body}</body></message>`);
    expect(sent.status).toBe(202);
    const m = await dave.waitForMessage(body, 30_000);
    expect(m.attrs.from).toBe("app@edge.test");
  });
});
