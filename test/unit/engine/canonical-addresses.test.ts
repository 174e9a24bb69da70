// Issue 10.11: addresses are checked and delivered in canonical form (RFC 7622): a stream verified
// for peer.test delivers "a@peer。test" and "a@PEER.TEST." as "a@peer.test"; "%2e" is not a dot;
// an address with no canonical form is refused with the stanza error jid-malformed (RFC 6120
// §8.3.3.8), answered to the verified sender, and the stream carries on.

import { describe, expect, it } from "vitest";
import { canonicalJid, jidDomain, toDomain } from "../../../src/stream/addressing.js";
import { submitStanza } from "../../../src/delivery/submit.js";
import type { S2SStream } from "../../../src/engine/index.js";
import { d, el, openReceiving, show } from "./harness.js";

const NOW = 1000;
const full = (raw: string) => {
  const r = canonicalJid(raw);
  return r.ok ? r.jid.full : undefined;
};

describe("canonicalJid (RFC 7622)", () => {
  it("maps the domainpart: label separators, case, IDNA, one trailing dot", () => {
    expect(full("a@peer\u3002test")).toBe("a@peer.test");
    expect(full("a@peer\uff0etest")).toBe("a@peer.test");
    expect(full("a@peer\uff61test")).toBe("a@peer.test");
    expect(full("a@PEER.TEST.")).toBe("a@peer.test");
    expect(full("a@peer.test\u3002")).toBe("a@peer.test");
    expect(full("a@\uff50\uff45\uff45\uff52.test")).toBe("a@peer.test"); // fullwidth letters (UTS-46)
    expect(full("a@B\u00fccher.example")).toBe("a@xn--bcher-kva.example");
    expect(full("peer.test")).toBe("peer.test");
  });

  it("refuses what is no domain: '%' (never decoded), empty labels, spaces, IP literals", () => {
    for (const bad of ["a@peer%2etest", "peer%2Etest", "a@peer.test..", "a@.", "a@", "a@pe er.test", "a@ peer.test", "a@peer.test\t", "a@127.0.0.1", "a@peer..test", "a@b@peer.test"]) {
      expect(canonicalJid(bad), bad).toEqual({ ok: false, domain: undefined });
    }
    expect(toDomain("peer%2etest")).toBeUndefined();
    expect(jidDomain("x@peer%2etest/r")).toBeUndefined();
  });

  it("localpart: UsernameCaseMapped (case and width folded, NFC), RFC 7622 exclusions refused", () => {
    expect(full("Alice@peer.test")).toBe("alice@peer.test");
    expect(full("\uff21lice@peer.test")).toBe("alice@peer.test"); // fullwidth A
    expect(full("A\u0308nne@peer.test")).toBe("\u00e4nne@peer.test"); // NFC
    expect(full("\u00c9lodie@peer.test")).toBe("\u00e9lodie@peer.test");
    for (const bad of ["@peer.test", "a b@peer.test", "a&b@peer.test", "a'b@peer.test", "a:b@peer.test", "a<b@peer.test", "\u2603@peer.test", "a\u200db@peer.test", "\u2160@peer.test", "x\u05d0@peer.test"]) {
      expect(canonicalJid(bad), bad).toEqual({ ok: false, domain: "peer.test" });
    }
    expect(full(`${"a".repeat(1023)}@peer.test`)).toBeDefined();
    expect(canonicalJid(`${"a".repeat(1024)}@peer.test`).ok).toBe(false);
  });

  it("resourcepart: OpaqueString (case and width kept, non-ASCII spaces mapped, NFC), controls refused", () => {
    expect(full("a@peer.test/Balcony Door")).toBe("a@peer.test/Balcony Door");
    expect(full("a@peer.test/x@y/z")).toBe("a@peer.test/x@y/z");
    expect(full("a@peer.test/\uff21\u00a0\u2603")).toBe("a@peer.test/\uff21 \u2603");
    expect(full("a@peer.test/A\u030a")).toBe("a@peer.test/\u00c5");
    for (const bad of ["a@peer.test/", "a@peer.test/\u0007", "a@peer.test/a\u200bb", "a@peer.test/\ue000"]) {
      expect(canonicalJid(bad), JSON.stringify(bad)).toEqual({ ok: false, domain: "peer.test" });
    }
  });
});

/** A receiving stream for edge.test on which peer.test -> edge.test is verified. */
function verified(id: string): S2SStream {
  const s = openReceiving({ now: NOW, local: "edge.test", remote: "peer.test", id });
  s.handleElement(el(`<db:result from='peer.test' to='edge.test'>k</db:result>`), NOW);
  const v = s.drainActions().find((a) => a.type === "verify");
  if (v?.type !== "verify") throw new Error("no verify");
  s.handleVerifyResult(v.handle, { type: "valid" }, NOW);
  s.drainActions();
  return s;
}

const message = (from: string, to = "bob@edge.test") => {
  const m = el(`<message xmlns='jabber:server' id='m1'><body>x</body></message>`);
  m.attrs.from = from;
  m.attrs.to = to;
  return m;
};

describe("the engine delivers canonical addresses only (issue 10.11)", () => {
  it("rewrites 'from' and 'to' to the canonical form before delivery", () => {
    const s = verified("C1");
    for (const from of ["a@peer\u3002test", "a@PEER.TEST.", "A@Peer.Test"]) {
      s.handleElement(message(from, "Bob@EDGE.test./Home"), NOW);
      const out = s.drainActions();
      expect(out.map((a) => a.type), from).toEqual(["deliver"]);
      const a = out[0]!;
      if (a.type !== "deliver") throw new Error();
      expect([a.stanza.attrs.from, a.stanza.attrs.to, a.from, a.to]).toEqual(["a@peer.test", "bob@edge.test/Home", "peer.test", "edge.test"]);
    }
  });

  it("'%2e' is not a dot: from='a@peer%2etest' names no verified domain (invalid-from), nothing is delivered", () => {
    const s = verified("C2");
    s.handleElement(message("a@peer%2etest"), NOW);
    const out = show(s.drainActions());
    expect(out.some((x) => x.startsWith("deliver"))).toBe(false);
    expect(out.at(-1)).toBe("closed us invalid-from");
  });

  it("refuses a malformed localpart or resourcepart with jid-malformed to the verified sender; the stream carries on", () => {
    const s = verified("C3");
    s.handleElement(message("a b@peer.test"), NOW);
    let out = s.drainActions();
    expect(out.map((a) => a.type)).toEqual(["reply"]);
    const r = out[0]!;
    if (r.type !== "reply") throw new Error();
    expect(r.condition).toBe("jid-malformed");
    expect(r.stanza.toString()).toBe(
      `<message type="error" id="m1" from="bob@edge.test" to="a b@peer.test" xmlns="jabber:server"><body>x</body><error type="modify"><jid-malformed xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/><text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas" xml:lang="en">'from' is not a valid XMPP address</text></error></message>`,
    );
    s.handleElement(message("a@peer.test", "Bob@edge.test/"), NOW);
    out = s.drainActions();
    expect(out.map((a) => a.type)).toEqual(["reply"]);
    expect((out[0] as { stanza: { attrs: Record<string, string> } }).stanza.attrs.from).toBe("edge.test");
    // An error is never answered with an error (RFC 6120 §8.3.1).
    const e = message("a b@peer.test");
    e.attrs.type = "error";
    s.handleElement(e, NOW);
    expect(s.drainActions()).toEqual([]);
    s.handleElement(message("a@peer.test"), NOW);
    expect(s.drainActions().map((a) => a.type)).toEqual(["deliver"]);
    expect(s.pairState("inbound", d("edge.test"), d("peer.test"))).toBe("valid");
  });
});

describe("the application API checks the same way (src/delivery/submit.ts)", () => {
  const hosted = [d("edge.test")];
  it("sends canonical addresses", () => {
    const r = submitStanza(`<message from='App@EDGE.test.' to='Carol@peer\u3002test/Phone'><body>x</body></message>`, hosted, 65536);
    expect(r.ok && [r.stanza.attrs.from, r.stanza.attrs.to, r.to]).toEqual(["app@edge.test", "carol@peer.test/Phone", "peer.test"]);
  });
  it("refuses what has no canonical form with a jid-malformed problem", () => {
    for (const [from, to] of [["app@edge.test", "carol@peer%2etest"], ["a b@edge.test", "carol@peer.test"], ["app@edge.test", "carol@peer.test/"]]) {
      const r = submitStanza(`<message from='${from}' to='${to}'><body>x</body></message>`, hosted, 65536);
      expect(r.ok, `${from} ${to}`).toBe(false);
      if (!r.ok) expect(r.detail).toMatch(/^jid-malformed: /);
    }
  });
});
