// Issue 6: bidirectional S2S (XEP-0288) with Prosody's mod_s2s_bidi. Prosody offers and requests
// bidi only on encrypted streams when encryption is required. Prosody's stream to the edge (through
// the gateway) then carries both directions: its user's stanzas in, and the edge's answers out, with
// no second connection for the answers.

import type { Element } from "ltx";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { C2sClient } from "../../scripts/interop/lib/c2s.mjs";
import { startStack, type Stack } from "../../scripts/interop/lib/stack.mjs";
import { PASSWORD } from "../../scripts/interop/lib/topology.mjs";
import { gatewayLog, uniqueBody, waitForInbox } from "./helpers.js";

describe("edge <-> Prosody with mod_s2s_bidi (STARTTLS required)", () => {
  let stack: Stack;
  let alice: C2sClient;

  beforeAll(async () => {
    stack = await startStack({ tls: true, bidi: true, edgeDirectTls: false, ejabberd: false, name: "bidi" });
    alice = await C2sClient.login({ host: stack.ip.prosody, port: 5222, jid: `alice@${stack.domains.prosody}`, password: PASSWORD });
  });
  afterAll(async () => {
    await alice?.close();
    await stack?.stop();
  });

  it("carries a Prosody user's stanzas in and the edge's answers out on Prosody's one connection", async () => {
    const body = uniqueBody("bidi in");
    alice.sendMessage(`app@${stack.domains.edge}`, body);
    await waitForInbox(stack, (i) => i.xml.includes(body));

    // XEP-0199 ping to the edge's domain, answered by the edge's default local app.
    alice.send(`<iq type='get' to='${stack.domains.edge}' id='bidi-ping'><ping xmlns='urn:xmpp:ping'/></iq>`);
    const pong = await alice.waitFor((el: Element) => el.is("iq") && el.attrs.id === "bidi-ping", 30_000);
    expect(pong.attrs.type).toBe("result");
    expect(pong.attrs.from).toBe("edge.test");

    const log = gatewayLog(stack);
    const requested = log.find((e) => e.msg === "peer data" && String(e.data).includes("<bidi xmlns='urn:xmpp:bidi'/>"));
    expect(requested, "Prosody requested bidi (XEP-0288 §3)").toBeDefined();
    const conn = requested!.conn;
    expect(log.some((e) => e.conn === conn && e.msg === "peer data" && String(e.data).includes(body))).toBe(true);
    // The answer went back as a frame on that same gateway connection: the edge did not dial Prosody for it.
    expect(log.some((e) => e.conn === conn && e.msg === "edge frame" && /<iq [^>]*id='bidi-ping'[^>]*type='result'|<iq [^>]*type='result'[^>]*id='bidi-ping'/.test(String(e.data)))).toBe(true);
  });
});
