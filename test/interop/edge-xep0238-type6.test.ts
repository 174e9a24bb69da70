// Issue 12: a type-6 Prosody 0.12 (XEP-0238 §3: TLS and a valid certificate required,
// s2s_secure_auth = true) receiving from the edge. connect() presents no client certificate, so
// such a server refuses the edge ("Your server's certificate could not be validated"); through the
// gateway egress the edge's certificate is presented, Prosody offers SASL EXTERNAL, and the edge
// authenticates with it as initiator (XEP-0178 §2: <auth mechanism='EXTERNAL'>=</auth>, restart),
// with no dialback for that pair. Edge policy level: trusted (the edge as type 6 too).

import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { C2sClient } from "../../scripts/interop/lib/c2s.mjs";
import { startStack, type Stack } from "../../scripts/interop/lib/stack.mjs";
import { PASSWORD } from "../../scripts/interop/lib/topology.mjs";
import { gatewayLogWhen, putPolicy, sendFromEdge, uniqueBody, waitForInbox } from "./helpers.js";

describe("XEP-0238 type 6: the edge (trusted, gateway egress) -> Prosody with s2s_secure_auth", () => {
  let stack: Stack;
  let alice: C2sClient;

  beforeAll(async () => {
    stack = await startStack({ tls: true, edgeDirectTls: false, ejabberd: false, prosodySecureAuth: true, egress: "gateway", name: "xep0238-type6", logLevel: "debug" });
    await putPolicy(stack, { level: "trusted" });
    alice = await C2sClient.login({ host: stack.ip.prosody, port: 5222, jid: `alice@${stack.domains.prosody}`, password: PASSWORD });
  });
  afterAll(async () => {
    await alice?.close();
    await stack?.stop();
  });

  it("edge -> Prosody: SASL EXTERNAL with the edge's certificate, no dialback, delivered", async () => {
    const body = uniqueBody("type6 out");
    const sent = await sendFromEdge(stack,
      `<message xmlns='jabber:client' from='app@${stack.domains.edge}' to='alice@${stack.domains.prosody}' type='chat'><body>${body}</body></message>`);
    expect(sent.status).toBe(202);
    const m = await alice.waitForMessage(body, 30_000);
    expect(m.attrs.from).toBe("app@edge.test");
    const log = await gatewayLogWhen(stack, (l) => l.some((e) => e.msg === "egress peer data" && String(e.data).includes("<success")));
    const out = log.filter((e) => e.msg === "egress edge data" && e.egress === "edge.test->prosody.test").map((e) => String(e.data));
    const back = log.filter((e) => e.msg === "egress peer data" && e.egress === "edge.test->prosody.test").map((e) => String(e.data));
    expect(out).toContain("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>");
    expect(back.some((d) => d.includes("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"))).toBe(true);
    // The gateway verified Prosody's CA-issued certificate for prosody.test (RFC 6125).
    expect(log.find((e) => e.msg === "egress tls" && e.egress === "edge.test->prosody.test")).toMatchObject({ certificate: "valid", certIdentities: ["prosody.test"] });
    // That pair used no dialback on the edge's stream.
    expect(out.some((d) => d.startsWith("<db:result"))).toBe(false);
    expect(readFileSync(stack.prosody!.log, "utf8")).toMatch(/edge\.test/);
  });

  it("Prosody -> edge: Prosody authenticates with SASL EXTERNAL at the gateway ingress; delivered", async () => {
    const body = uniqueBody("type6 in");
    alice.sendMessage(`app@${stack.domains.edge}`, body);
    const item = await waitForInbox(stack, (i) => i.xml.includes(body));
    expect(item.from).toMatch(/^alice@prosody\.test\//);
    const peer = await (await stack.api(`/admin/v1/peers/${stack.domains.prosody}`, {}, stack.tokens.admin)).text();
    expect(peer).toContain("trusted");
  });
});
