// Issue 12.3a: a pre-XMPP-1.0 stream header with no 'to', 'from' or 'version' (jabberd2 2.7 without a
// certificate; XEP-0238 type 1). RFC 6120 §4.7.2 requires 'to' of 1.0 streams only; such a stream is
// taken for the hosted domain the transport can only be for (TransportInfo.impliedLocal) and the
// db:result names the pair (XEP-0220 §2.1.1). Without an implied domain, or on a 1.0 stream, a
// header without 'to' stays host-unknown.

import { describe, expect, it } from "vitest";
import { S2SStream, type Action, type PolicyView } from "../../../src/engine/index.js";
import { asStreamId, type Domain } from "../../../src/types.js";
import { ALLOW, TestPolicy, d, el, msg, show } from "./harness.js";

const NOW = 1000;
// jabberd2 2.7's header without a certificate, attribute for attribute.
const BARE = { xmlns: "jabber:server", "xmlns:db": "jabber:server:dialback", "xmlns:stream": "http://etherx.jabber.org/streams" };

function stream(policy: PolicyView, impliedLocal?: string): S2SStream {
  return new S2SStream({
    role: "receiving",
    policy,
    transport: { secure: false, canStartTls: false, ...(impliedLocal ? { impliedLocal: impliedLocal as Domain } : {}) },
    now: NOW,
    newStreamId: () => asStreamId("S1"),
  });
}

const headers = (as: Action[]) => as.flatMap((a) => (a.type === "send" && a.data.kind === "header" ? [a.data.attrs] : []));

describe("pre-1.0 stream header without 'to' (jabberd2 without a certificate)", () => {
  it("is taken for the implied hosted domain, answered pre-1.0, and the db:result's pair is verified", () => {
    const s = stream(new TestPolicy(["edge.test"], ALLOW), "edge.test");
    s.handleOpen(BARE, NOW);
    const opened = s.drainActions();
    // Our answer: no version and no features (RFC 3920 behaviour), our domain and the stream id.
    expect(headers(opened)).toEqual([{ ...BARE, from: "edge.test", id: "S1" }]);
    expect(show(opened).some((l) => l.includes("features"))).toBe(false);
    expect(s.phase).toBe("open");

    s.handleElement(el(`<db:result from='jabberd2.test' to='edge.test'>k3y</db:result>`), NOW);
    const v = s.drainActions().find((a) => a.type === "verify");
    expect(v).toMatchObject({ type: "verify", from: "edge.test", to: "jabberd2.test", id: "S1", key: "k3y" });
    s.handleVerifyResult((v as { handle: number }).handle, { type: "valid" }, NOW);
    expect(show(s.drainActions())).toContain('send <db:result from="edge.test" to="jabberd2.test" type="valid"/>');
    expect(s.pairState("inbound", d("edge.test"), d("jabberd2.test"))).toBe("valid");

    s.handleElement(msg("frank@jabberd2.test/r", "app@edge.test"), NOW);
    expect(s.drainActions().some((a) => a.type === "deliver")).toBe(true);
  });

  it("a db:result for another domain than the implied one is still judged by its own 'to'", () => {
    const s = stream(new TestPolicy(["edge.test", "other.test"], ALLOW), "edge.test");
    s.handleOpen(BARE, NOW);
    s.drainActions();
    s.handleElement(el(`<db:result from='jabberd2.test' to='other.test'>k</db:result>`), NOW);
    expect(s.drainActions().find((a) => a.type === "verify")).toMatchObject({ from: "other.test" });
  });

  it("without an implied domain the header is host-unknown, as before", () => {
    const s = stream(new TestPolicy(["edge.test", "other.test"], ALLOW));
    s.handleOpen(BARE, NOW);
    expect(show(s.drainActions()).slice(-3)).toEqual([
      'send <stream:error><host-unknown xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error>',
      "send close",
      "closed us host-unknown",
    ]);
  });

  it("an implied domain we do not host is not used", () => {
    const s = stream(new TestPolicy(["edge.test"], ALLOW), "elsewhere.test");
    s.handleOpen(BARE, NOW);
    expect(show(s.drainActions()).at(-1)).toBe("closed us host-unknown");
  });

  it("an XMPP 1.0 header without 'to' stays host-unknown (RFC 6120 §4.7.2)", () => {
    const s = stream(new TestPolicy(["edge.test"], ALLOW), "edge.test");
    s.handleOpen({ ...BARE, version: "1.0" }, NOW);
    expect(show(s.drainActions()).at(-1)).toBe("closed us host-unknown");
  });

  it("a header that names a domain is taken at its word, even with an implied one", () => {
    const s = stream(new TestPolicy(["edge.test", "other.test"], ALLOW), "edge.test");
    s.handleOpen({ ...BARE, to: "other.test" }, NOW);
    expect(headers(s.drainActions())[0]).toMatchObject({ from: "other.test" });
  });
});
