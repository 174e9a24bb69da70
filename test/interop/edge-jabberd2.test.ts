// Issue 12.3: federation between the edge and a real jabberd2 2.7 (Debian's package, its four
// processes run by hand: scripts/interop/lib/jabberd2.mjs), both directions, in plaintext and with
// STARTTLS, the gateway with its defaults (client certificate requested, TLS 1.3).
//
// Plaintext: jabberd2 without a certificate opens its streams with no to, from or version (a
// pre-XMPP-1.0 header); the edge accepts that because edge.test is the only domain it hosts and
// takes the addresses from the db:result. STARTTLS: TLS 1.3 session tickets sent after a
// client-certificate request broke jabberd2's TLS layer (it wrote </stream:stream> in clear and
// reconnected ~78 times a second); the gateway sends none on S2S. jabberd2 verifies our key only on
// its own outgoing stream to us, and tears that stream down on any dialback error.

import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { C2sClient } from "../../scripts/interop/lib/c2s.mjs";
import { startStack, type Stack } from "../../scripts/interop/lib/stack.mjs";
import { PASSWORD } from "../../scripts/interop/lib/topology.mjs";
import { gatewayLog, sendFromEdge, uniqueBody, waitForInbox } from "./helpers.js";

describe.each([
  { label: "plaintext (jabberd2 without a certificate: pre-1.0 stream headers)", tls: false },
  { label: "STARTTLS (gateway defaults: client certificate requested, TLS 1.3)", tls: true },
])("edge <-> jabberd2 ($label)", ({ tls }) => {
  let stack: Stack;
  let frank: C2sClient;

  beforeAll(async () => {
    stack = await startStack({
      name: `jabberd2-${tls ? "stls" : "plain"}`, prosody: false, ejabberd: false, edgeDirectTls: false,
      jabberd2: true, jabberd2Tls: tls,
      // The gateway's defaults (GATEWAY_REQUIRE_TLS=true, a client certificate requested), except
      // that in plaintext it must let in a server that cannot do STARTTLS (GATEWAY_REQUIRE_TLS=false).
      tls,
    });
    frank = await C2sClient.login({ host: stack.ip.jabberd2, port: 5222, jid: `frank@${stack.domains.jabberd2}`, password: PASSWORD });
  });
  /** jabberd2's s2s log line saying its route with edge.test became valid ("... valid TLS" over TLS). */
  const routeLine = (dir: "incoming" | "outgoing") =>
    readFileSync(stack.jabberd2!.logs.s2s, "utf8").split("\n").find((l) => l.includes(`${dir} route 'jabberd2.test/edge.test' is now valid`)) ?? "";

  afterAll(async () => {
    await frank?.close();
    await stack?.stop();
  });

  it("delivers a jabberd2 user's message to the edge's application", async () => {
    const body = uniqueBody("jabberd2 to edge");
    frank.sendMessage(`app@${stack.domains.edge}`, body);
    const item = await waitForInbox(stack, (i) => i.xml.includes(body));
    expect(item.from).toMatch(/^frank@jabberd2\.test\//);
    expect(item.to).toBe("app@edge.test");
    const secured = gatewayLog(stack).filter((e) => e.msg === "tls established");
    expect(secured.length > 0).toBe(tls);
    // jabberd2's own view of its stream to the edge: dialback done, over TLS in the STARTTLS run.
    expect(routeLine("outgoing")).toMatch(tls ? /is now valid TLS/ : /is now valid\s*$/);
  });

  it("delivers the edge application's message to a jabberd2 user", async () => {
    const body = uniqueBody("edge to jabberd2");
    const sent = await sendFromEdge(stack,
      `<message xmlns='jabber:client' from='app@${stack.domains.edge}' to='frank@${stack.domains.jabberd2}' type='chat'><body>${body}</body></message>`);
    expect(sent.status).toBe(202);
    const m = await frank.waitForMessage(body, 45_000);
    expect(m.attrs.from).toBe("app@edge.test");
    // The edge's stream to jabberd2 (connect(), STARTTLS when offered), as jabberd2 logged it.
    expect(routeLine("incoming")).toMatch(tls ? /is now valid TLS/ : /is now valid\s*$/);
  });

  it("jabberd2 holds its streams to the edge instead of reconnecting", async () => {
    // Both ways done: jabberd2 needed one stream to the edge (its own stanzas, its db:verify for
    // our key). A TLS layer it cannot use shows up as tens of connections a second.
    const before = gatewayLog(stack).filter((e) => e.msg === "accepted").length;
    await new Promise((r) => setTimeout(r, 3000));
    const after = gatewayLog(stack).filter((e) => e.msg === "accepted").length;
    expect(after - before).toBe(0);
    expect(after).toBeLessThanOrEqual(3);
  });
});
