// durable-objects/lib/gateway-signal.ts: when the edge tells the gateway a stream is authenticated
// (issue 11 item 3, src/gateway-contract.ts). The dialback path runs end to end in
// test/workerd/session-gateway-signal.test.ts; the db:verify path is checked here.
import { Element } from "ltx";
import { describe, expect, it } from "vitest";
import { AuthenticatedSignal } from "../../durable-objects/lib/gateway-signal.js";
import { authenticatedFrame } from "../../src/gateway-contract.js";
import type { Domain } from "../../src/types.js";

const verify = (type: string) => ({ kind: "element" as const, element: new Element("db:verify", { "xmlns:db": "jabber:server:dialback", from: "edge.test", to: "peer.test", id: "i1", type }) });

describe("AuthenticatedSignal", () => {
  it("fires once: on an inbound pair becoming valid, or on our db:verify answer type='valid'", () => {
    const sent: string[] = [];
    const byVerify = new AuthenticatedSignal(true, (f) => sent.push(f));
    byVerify.wrote(verify("invalid"));
    byVerify.wrote({ kind: "element", element: new Element("db:result", { "xmlns:db": "jabber:server:dialback", type: "valid" }) });
    expect(sent).toEqual([]);
    byVerify.wrote(verify("valid"));
    byVerify.wrote(verify("valid"));
    expect(sent).toEqual([authenticatedFrame()]);

    const byPair = new AuthenticatedSignal(true, (f) => sent.push(f));
    const pair = (direction: "inbound" | "outbound", state: "pending" | "valid") =>
      ({ type: "pair-state", local: "edge.test" as Domain, remote: "peer.test" as Domain, direction, state }) as const;
    byPair.observe(pair("outbound", "valid"));
    byPair.observe(pair("inbound", "pending"));
    expect(sent).toHaveLength(1);
    byPair.observe(pair("inbound", "valid"));
    expect(sent).toHaveLength(2);
  });

  it("never fires when the gateway did not ask", () => {
    const sent: string[] = [];
    const s = new AuthenticatedSignal(false, (f) => sent.push(f));
    s.wrote(verify("valid"));
    s.observe({ type: "pair-state", local: "edge.test" as Domain, remote: "peer.test" as Domain, direction: "inbound", state: "valid" });
    expect(sent).toEqual([]);
  });
});
