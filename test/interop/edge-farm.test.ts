// Issue 12.4 (seed 004, the 2001 dialback draft: "the key is private to the servers making up the
// Server A network"): the edge as the dialback authority for a server farm. Two real Prosody 0.12
// nodes originate for farm.test with `dialback_secret` = the edge's DIALBACK_SECRET; farm.test's SRV
// points at the edge's gateway. An ejabberd receiving from a node dials back to farm.test, i.e. to
// the edge, which verifies the key the node made: Prosody's key is XEP-0185's (HMAC-SHA256 keyed with
// the hex SHA-256 of the secret over "receiving originating stream-id"), the edge's default formula.
// Inbound streams for farm.test reach the edge, which delivers their stanzas to its own application.
// A third node with another secret is the control: the edge says its key is invalid.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { C2sClient } from "../../scripts/interop/lib/c2s.mjs";
import { startStack, type Stack } from "../../scripts/interop/lib/stack.mjs";
import { PASSWORD } from "../../scripts/interop/lib/topology.mjs";
import { gatewayLogWhen, sendFromEdge, uniqueBody, waitForInbox } from "./helpers.js";

describe("the edge as dialback authority for a Prosody farm (farm.test)", () => {
  let stack: Stack;
  let dave: C2sClient;
  const nodes: C2sClient[] = [];
  let impostor: C2sClient;

  beforeAll(async () => {
    stack = await startStack({ name: "farm", prosody: false, edgeDirectTls: false, farm: true });
    dave = await C2sClient.login({ host: stack.ip.ejabberd, port: 5222, jid: `dave@${stack.domains.ejabberd}`, password: PASSWORD });
    for (const n of stack.farm!) nodes.push(await C2sClient.login({ host: n.ip, port: 5222, jid: n.user, password: PASSWORD }));
    impostor = nodes.pop()!; // node 3: farm.test with another dialback_secret
  });
  afterAll(async () => {
    for (const c of [...nodes, impostor]) await c?.close();
    await dave?.close();
    await stack?.stop();
  });

  it("ejabberd takes each node's stream for farm.test once the edge says its key is valid", async () => {
    for (const [i, node] of nodes.entries()) {
      const body = uniqueBody(`farm node ${i + 1} to ejabberd`);
      node.sendMessage(`dave@${stack.domains.ejabberd}`, body);
      const m = await dave.waitForMessage(body, 45_000);
      expect(m.attrs.from).toMatch(new RegExp(`^${stack.farm![i]!.user.replace(".", "\\.")}/`));
    }
    // ejabberd asked farm.test's authority (the edge, through the gateway) and the edge said valid,
    // once per node: each node's key, minted with the shared secret, verified by the edge.
    const answers = (log: Array<Record<string, unknown>>) =>
      log.filter((e) => e.msg === "edge frame" && /<db:verify[^>]*type=['"]valid['"]/.test(String(e.data)) && String(e.data).includes("farm.test"));
    const log = await gatewayLogWhen(stack, (l) => answers(l).length >= 2);
    expect(answers(log).length).toBeGreaterThanOrEqual(2);
    expect(log.some((e) => e.msg === "edge frame" && /type=['"]invalid['"]/.test(String(e.data)))).toBe(false);
  });

  it("a node with another secret is refused: the edge says its key is invalid and ejabberd drops its stanza", async () => {
    const body = uniqueBody("impostor to ejabberd");
    impostor.sendMessage(`dave@${stack.domains.ejabberd}`, body);
    const invalid = (log: Array<Record<string, unknown>>) =>
      log.filter((e) => e.msg === "edge frame" && /<db:verify[^>]*type=['"]invalid['"]/.test(String(e.data)) && String(e.data).includes("farm.test"));
    const log = await gatewayLogWhen(stack, (l) => invalid(l).length >= 1, 45_000);
    expect(invalid(log).length).toBeGreaterThanOrEqual(1);
    await new Promise((r) => setTimeout(r, 2000));
    expect(dave.received.some((m) => m.toString().includes(body))).toBe(false);
  });

  it("a stanza from ejabberd to a farm.test user reaches the edge's application (farm.test's SRV is the edge)", async () => {
    const body = uniqueBody("ejabberd to farm");
    dave.sendMessage(`ann@${stack.domains.farm}`, body);
    const item = await waitForInbox(stack, (i) => i.xml.includes(body), 45_000);
    expect(item.from).toMatch(/^dave@ejabberd\.test\//);
    expect(item.to).toBe("ann@farm.test");
  });

  it("the edge's application sends as farm.test too", async () => {
    const body = uniqueBody("edge as farm.test to ejabberd");
    const sent = await sendFromEdge(stack,
      `<message xmlns='jabber:client' from='app@${stack.domains.farm}' to='dave@${stack.domains.ejabberd}' type='chat'><body>${body}</body></message>`);
    expect(sent.status).toBe(202);
    const m = await dave.waitForMessage(body, 45_000);
    expect(m.attrs.from).toBe("app@farm.test");
  });
});
