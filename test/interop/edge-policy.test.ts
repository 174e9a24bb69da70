// Issue 6: a Prosody domain denied by the edge's policy (admin API) is refused during dialback and
// Prosody bounces its user's message. The edge answers Prosody's db:result with a dialback error
// (XEP-0220 §2.4, <forbidden/>); Prosody 0.12 does not process dialback errors: it closes the stream
// with not-authorized and bounces the queued stanza itself.

import type { Element } from "ltx";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { C2sClient } from "../../scripts/interop/lib/c2s.mjs";
import { startStack, type Stack } from "../../scripts/interop/lib/stack.mjs";
import { PASSWORD } from "../../scripts/interop/lib/topology.mjs";
import { gatewayLogWhen, inbox, uniqueBody, waitForInbox } from "./helpers.js";

describe.each([
  { label: "plaintext", tls: false },
  { label: "STARTTLS required", tls: true },
])("policy: a denied Prosody domain ($label)", ({ tls }) => {
  let stack: Stack;
  let alice: C2sClient;
  let carol: C2sClient;

  beforeAll(async () => {
    stack = await startStack({ tls, edgeDirectTls: false, ejabberd: false, name: `policy-${tls ? "tls" : "plain"}` });
    alice = await C2sClient.login({ host: stack.ip.prosody, port: 5222, jid: `alice@${stack.domains.prosody}`, password: PASSWORD });
    carol = await C2sClient.login({ host: stack.ip.prosody, port: 5222, jid: `carol@${stack.domains.prosodyDenied}`, password: PASSWORD });
    const res = await stack.api(`/admin/v1/policy/domains/${stack.domains.prosodyDenied}`, {
      method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ action: "deny" }),
    }, stack.tokens.admin);
    if (!res.ok) throw new Error(`PUT policy: ${res.status} ${await res.text()}`);
  });
  afterAll(async () => {
    await alice?.close();
    await carol?.close();
    await stack?.stop();
  });

  it("refuses the denied domain with a dialback error, and Prosody bounces the user's message", async () => {
    const body = uniqueBody("denied");
    const id = carol.sendMessage(`app@${stack.domains.edge}`, body);
    const bounce = await carol.waitFor((el: Element) => el.is("message") && el.attrs.type === "error" && el.attrs.id === id, 30_000);
    expect(bounce.attrs.from).toBe("app@edge.test");
    // Prosody 0.12's own bounce for a failed outgoing stream.
    const error = bounce.getChild("error");
    expect(error?.getChild("remote-server-timeout", "urn:ietf:params:xml:ns:xmpp-stanzas")).toBeDefined();
    expect(error?.getChildText("text", "urn:ietf:params:xml:ns:xmpp-stanzas")).toContain("dialback authentication failed");

    // What the edge told Prosody, as carried by the gateway.
    const isRefusal = (e: Record<string, unknown>) => e.msg === "edge frame" && /<db:result [^>]*to='denied\.test'[^>]*type='error'/.test(String(e.data));
    const refusal = (await gatewayLogWhen(stack, (l) => l.some(isRefusal))).find(isRefusal);
    expect(refusal, "db:result type='error' to denied.test").toBeDefined();
    expect(String(refusal!.data)).toContain("<forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>");
    expect((await inbox(stack)).some((i) => i.xml.includes(body))).toBe(false);
  });

  it("still accepts the allowed domain on the same Prosody", async () => {
    const body = uniqueBody("allowed");
    alice.sendMessage(`app@${stack.domains.edge}`, body);
    const item = await waitForInbox(stack, (i) => i.xml.includes(body));
    expect(item.from).toMatch(/^alice@prosody\.test\//);
  });
});
