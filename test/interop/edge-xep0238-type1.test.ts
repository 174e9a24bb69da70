// Issue 12 item 2: the edge as an XEP-0238 type 1 server (a pre-XMPP-1.0 server: Server Dialback
// only, no TLS offered or used) against a type-1 Prosody 0.12 (mod_tls disabled: no STARTTLS
// offered; Prosody always says version='1.0', and answers a version-less header without features,
// RFC 6120 §4.7.5). Settings: policy knob xmppVersion "0.9"; gateway GATEWAY_REQUIRE_TLS=false,
// GATEWAY_OFFER_TLS=false; no _xmpps-server record.

import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { C2sClient } from "../../scripts/interop/lib/c2s.mjs";
import { startStack, type Stack } from "../../scripts/interop/lib/stack.mjs";
import { PASSWORD } from "../../scripts/interop/lib/topology.mjs";
import { gatewayLog, putPolicy, sendFromEdge, uniqueBody, waitForInbox } from "./helpers.js";

describe("XEP-0238: the edge as type 1 against a type-1 Prosody", () => {
  let stack: Stack;
  let alice: C2sClient;

  beforeAll(async () => {
    stack = await startStack({
      tls: false, edgeDirectTls: false, ejabberd: false, name: "xep0238-type1", logLevel: "debug",
      gatewayEnv: { GATEWAY_OFFER_TLS: "false" },
    });
    await putPolicy(stack, { level: "verified", knobs: { xmppVersion: "0.9" } });
    alice = await C2sClient.login({ host: stack.ip.prosody, port: 5222, jid: `alice@${stack.domains.prosody}`, password: PASSWORD });
  });
  afterAll(async () => {
    await alice?.close();
    await stack?.stop();
  });

  it("Prosody -> edge: the edge answers with a pre-1.0 header and no features (no <starttls/> from the gateway either); dialback verifies", async () => {
    const body = uniqueBody("type1 in");
    alice.sendMessage(`app@${stack.domains.edge}`, body);
    const item = await waitForInbox(stack, (i) => i.xml.includes(body));
    expect(item.from).toMatch(/^alice@prosody\.test\//);
    const log = gatewayLog(stack);
    const fromEdge = log.filter((e) => e.msg === "edge frame").map((e) => String(e.data));
    const opens = fromEdge.filter((f) => f.startsWith("<open "));
    expect(opens.length).toBeGreaterThan(0);
    for (const o of opens) expect(o).not.toMatch(/version=/);
    expect(fromEdge.some((f) => f.includes("features"))).toBe(false);
    expect(log.filter((e) => e.msg === "tls established")).toHaveLength(0);
    // What Prosody wrote on its stream to the gateway: no <starttls/> anywhere.
    expect(log.some((e) => String(e.data ?? "").includes("starttls"))).toBe(false);
  });

  it("edge -> Prosody: a pre-1.0 stream header, no STARTTLS, dialback; the message arrives", async () => {
    const body = uniqueBody("type1 out");
    const sent = await sendFromEdge(stack,
      `<message xmlns='jabber:client' from='app@${stack.domains.edge}' to='alice@${stack.domains.prosody}' type='chat'><body>${body}</body></message>`);
    expect(sent.status).toBe(202);
    const m = await alice.waitForMessage(body, 30_000);
    expect(m.attrs.from).toBe("app@edge.test");
    // Prosody's log of the edge's outbound stream: opened without version (a pre-1.0 peer).
    const plog = readFileSync(stack.prosody!.log, "utf8");
    const headers = plog.split("\n").filter((l) => /Incoming s2s received <stream:stream [^>]*from='edge\.test'/.test(l));
    expect(headers.length).toBeGreaterThan(0);
    for (const h of headers) expect(h).not.toMatch(/version=/);
    expect(plog).toMatch(/Incoming s2s connection edge\.test->prosody\.test complete/);
  });
});
