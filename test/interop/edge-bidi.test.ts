// Issue 6: bidirectional S2S (XEP-0288) with Prosody's mod_s2s_bidi. Prosody offers and requests
// bidi only on encrypted streams when encryption is required. Prosody's stream to the edge (through
// the gateway) then carries both directions: its user's stanzas in, and the edge's answers out, with
// no second connection for the answers.

import type { Element } from "ltx";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { C2sClient } from "../../scripts/interop/lib/c2s.mjs";
import { startStack, type Stack } from "../../scripts/interop/lib/stack.mjs";
import { PASSWORD } from "../../scripts/interop/lib/topology.mjs";
import { gatewayLogWhen, sendFromEdge, uniqueBody, waitForInbox } from "./helpers.js";

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

    const isPong = (e: Record<string, unknown>) =>
      e.msg === "edge frame" && /<iq [^>]*id='bidi-ping'[^>]*type='result'|<iq [^>]*type='result'[^>]*id='bidi-ping'/.test(String(e.data));
    const log = await gatewayLogWhen(stack, (l) => l.some(isPong));
    const requested = log.find((e) => e.msg === "peer data" && String(e.data).includes("<bidi xmlns='urn:xmpp:bidi'/>"));
    expect(requested, "Prosody requested bidi (XEP-0288 §3)").toBeDefined();
    const conn = requested!.conn;
    expect(log.some((e) => e.conn === conn && e.msg === "peer data" && String(e.data).includes(body))).toBe(true);
    // The answer went back as a frame on that same gateway connection: the edge did not dial Prosody for it.
    expect(log.some((e) => e.conn === conn && isPong(e))).toBe(true);
  });

  it("sends the edge application's stanza (POST /api/v1/stanzas) on Prosody's bidi connection, with no dialback outward", async () => {
    // Prosody's user speaks first: Prosody's bidi stream to the edge now has prosody -> edge verified,
    // whose inverse the edge may send on it (XEP-0288 §2).
    const hello = uniqueBody("bidi hello");
    alice.sendMessage(`app@${stack.domains.edge}`, hello);
    await waitForInbox(stack, (i) => i.xml.includes(hello));

    const body = uniqueBody("bidi api out");
    const sent = await sendFromEdge(stack, `<message from='app@${stack.domains.edge}' to='alice@${stack.domains.prosody}' id='bidi-api' type='chat'><body>${body}</body></message>`);
    expect(sent.status).toBe(202);
    const got = await alice.waitFor((el: Element) => el.is("message") && el.getChildText("body") === body, 30_000);
    expect(got.attrs.from).toBe(`app@${stack.domains.edge}`);

    const log = await gatewayLogWhen(stack, (l) => l.some((e) => e.msg === "edge frame" && String(e.data).includes(body)));
    const bidiConns = new Set(log.filter((e) => e.msg === "peer data" && String(e.data).includes("<bidi xmlns='urn:xmpp:bidi'/>")).map((e) => e.conn));
    // Written by the edge as a frame on a connection Prosody opened with bidi ...
    expect(log.some((e) => bidiConns.has(e.conn) && e.msg === "edge frame" && String(e.data).includes(body))).toBe(true);
    // ... and the edge never authenticated edge -> prosody on a stream of its own.
    const res = await stack.api(`/admin/v1/pairs?local=${stack.domains.edge}&remote=${stack.domains.prosody}&direction=outbound`, {}, stack.tokens.admin);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { items: unknown[] }).items).toEqual([]);
  });
});

describe("edge -> Prosody with mod_s2s_bidi: the edge speaks first", () => {
  let stack: Stack;
  let alice: C2sClient;

  beforeAll(async () => {
    stack = await startStack({ tls: true, bidi: true, edgeDirectTls: false, ejabberd: false, name: "bidi-out" });
    alice = await C2sClient.login({ host: stack.ip.prosody, port: 5222, jid: `alice@${stack.domains.prosody}`, password: PASSWORD });
  });
  afterAll(async () => {
    await alice?.close();
    await stack?.stop();
  });

  // What Prosody 0.12 does here (seen in the gateway log): to verify the edge's key it opens a
  // connection of its own to edge.test (bidi + SASL EXTERNAL), asks db:verify there, and then sends
  // its user's reply on that same authenticated connection. It does not authenticate back on the
  // edge's outbound bidi stream, so that reverse-dialback path is covered by the harness only
  // (test/workerd/session-bidi-verify.test.ts).
  it("Prosody verifies the edge's key and sends its reply on one connection of its own, authenticated by SASL EXTERNAL", async () => {
    const body = uniqueBody("edge first");
    const sent = await sendFromEdge(stack, `<message from='app@${stack.domains.edge}' to='alice@${stack.domains.prosody}' id='bidi-first' type='chat'><body>${body}</body></message>`);
    expect(sent.status).toBe(202);
    await alice.waitFor((el: Element) => el.is("message") && el.getChildText("body") === body, 30_000);
    const reply = uniqueBody("prosody reply");
    alice.sendMessage(`app@${stack.domains.edge}`, reply);
    await waitForInbox(stack, (i) => i.xml.includes(reply));

    const log = await gatewayLogWhen(stack, (l) => l.some((e) => e.msg === "peer data" && String(e.data).includes(reply)));
    const conn = log.find((e) => e.msg === "peer data" && String(e.data).includes(reply))!.conn;
    const on = (pred: (e: Record<string, unknown>) => boolean) => log.some((e) => e.conn === conn && pred(e));
    expect(on((e) => e.msg === "peer data" && /<auth [^>]*mechanism='EXTERNAL'/.test(String(e.data)))).toBe(true);
    expect(on((e) => e.msg === "peer data" && String(e.data).includes("<db:verify "))).toBe(true);
    expect(on((e) => e.msg === "edge frame" && /<db:verify [^>]*type='valid'/.test(String(e.data)))).toBe(true);
  });
});
