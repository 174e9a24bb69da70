// XEP-0220 §2.4 dialback error conditions (each one), RFC 6120 §4.9 stream errors (always followed
// by closing the stream), and the per-stream cap on pending dialback requests.

import { describe, expect, it } from "vitest";
import { S2SStream, type Action, type RemotePolicy, type VerifyOutcome } from "../../../src/engine/index.js";
import { asStreamId } from "../../../src/types.js";
import { ALLOW, TestPolicy, d, el, msg, receivingStream, show } from "./harness.js";

const NOW = 7000;
const header = (from: string | undefined, to: string | undefined, extra: Record<string, string> = {}) => {
  const h: Record<string, string> = {
    xmlns: "jabber:server",
    "xmlns:db": "jabber:server:dialback",
    "xmlns:stream": "http://etherx.jabber.org/streams",
    version: "1.0",
    ...extra,
  };
  if (from) h.from = from;
  if (to) h.to = to;
  return h;
};
const sends = (as: Action[]) => as.flatMap((a) => (a.type === "send" && a.data.kind === "element" ? [a.data.element.toString()] : []));
const dbError = (from: string, to: string, cond: string, type = "cancel") =>
  `<db:result from="${from}" to="${to}" type="error"><error type="${type}"><${cond} xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></db:result>`;

function receiving(opts: { policy?: RemotePolicy; secure?: boolean; limits?: { maxPendingPerStream?: number }; version?: boolean; cert?: boolean } = {}) {
  const policy = new TestPolicy(["montague.example"], opts.policy ?? ALLOW, opts.limits);
  const s = receivingStream(policy, {
    now: NOW,
    ...(opts.secure !== undefined ? { secure: opts.secure } : {}),
    ...(opts.cert ? { cert: { status: "valid" as const, names: ["capulet.example"] } } : {}),
    newStreamId: () => asStreamId("S1"),
  });
  const h = header("capulet.example", "montague.example");
  if (opts.version === false) delete h.version;
  s.handleOpen(h, NOW);
  s.drainActions();
  return { s, policy };
}

function request(s: S2SStream, from = "capulet.example", to = "montague.example"): Action[] {
  s.handleElement(el(`<db:result from='${from}' to='${to}'>key</db:result>`), NOW);
  return s.drainActions();
}

describe("XEP-0220 §2.4 dialback error conditions (receiving side sends)", () => {
  it("item-not-found: the target is not hosted here", () => {
    const { s } = receiving();
    expect(sends(request(s, "capulet.example", "nothere.example"))).toEqual([dbError("nothere.example", "capulet.example", "item-not-found")]);
    expect(s.phase).toBe("open");
  });

  const viaAuthority: [string, VerifyOutcome, string, string][] = [
    ["remote-connection-failed: no connection to the authority", { type: "error", condition: "remote-connection-failed" }, "remote-connection-failed", "cancel"],
    ["remote-server-not-found: the authority's domain does not resolve", { type: "error", condition: "remote-server-not-found" }, "remote-server-not-found", "cancel"],
    ["remote-server-timeout: the authority closed without answering", { type: "error", condition: "remote-server-timeout" }, "remote-server-timeout", "wait"],
    ["remote-server-not-found: the authority answered with a dialback error (step 3)", { type: "error", condition: "item-not-found" }, "remote-server-not-found", "cancel"],
    ["forbidden: the authority said invalid", { type: "invalid" }, "forbidden", "auth"],
  ];
  for (const [name, outcome, cond, type] of viaAuthority) {
    it(name, () => {
      const { s } = receiving();
      const v = request(s).find((a) => a.type === "verify") as { handle: number };
      s.handleVerifyResult(v.handle, outcome, NOW);
      const out = s.drainActions();
      expect(sends(out)).toEqual([dbError("montague.example", "capulet.example", cond, type)]);
      expect(s.phase).toBe("open");
      expect(s.pairState("inbound", d("montague.example"), d("capulet.example"))).toBe("none");
    });
  }

  it("policy-violation: TLS is required before dialback and the stream is not encrypted", () => {
    const { s } = receiving({ secure: false, policy: { ...ALLOW, minLevel: "encrypted" } });
    const out = request(s);
    expect(sends(out)).toEqual([dbError("montague.example", "capulet.example", "policy-violation", "modify")]);
    expect(show(out)).toContain("audit policy-refusal");
  });

  it("not-authorized: a valid certificate is required and the peer has none", () => {
    const { s } = receiving({ secure: true, policy: { ...ALLOW, minLevel: "trusted" } });
    expect(sends(request(s))).toEqual([dbError("montague.example", "capulet.example", "not-authorized", "auth")]);
  });

  it("a CA-valid certificate for the sender meets 'trusted' without dialing back (XEP-0344)", () => {
    const { s } = receiving({ secure: true, cert: true, policy: { ...ALLOW, minLevel: "trusted" } });
    const out = request(s);
    expect(out.some((a) => a.type === "verify")).toBe(false);
    expect(sends(out)).toEqual(['<db:result from="montague.example" to="capulet.example" type="valid"/>']);
    expect(show(out)).toContain("pair inbound montague.example capulet.example valid");
  });

  it("policy refusal of the sender uses the policy's condition", () => {
    const { s } = receiving({ policy: { allowed: false, condition: "forbidden", reason: "blocked" } });
    const out = request(s);
    expect(sends(out)).toEqual([dbError("montague.example", "capulet.example", "forbidden", "auth")]);
    expect(show(out)).toContain("audit policy-refusal");
  });

  it("caps pending requests per stream with policy-violation (others keep going)", () => {
    const { s } = receiving({ limits: { maxPendingPerStream: 2 } });
    expect(request(s, "a.example").some((a) => a.type === "verify")).toBe(true);
    expect(request(s, "b.example").some((a) => a.type === "verify")).toBe(true);
    expect(sends(request(s, "c.example"))).toEqual([dbError("montague.example", "c.example", "policy-violation", "modify")]);
    expect(s.pendingCount).toBe(2);
    expect(s.phase).toBe("open");
  });
});

describe("pre-1.0 peers get RFC 3920 behaviour instead of dialback errors", () => {
  it("invalid -> type='invalid' and the stream closes", () => {
    const { s } = receiving({ version: false });
    expect(s.peerDialbackErrors).toBe(false);
    const v = request(s).find((a) => a.type === "verify") as { handle: number };
    s.handleVerifyResult(v.handle, { type: "invalid" }, NOW);
    expect(show(s.drainActions())).toEqual([
      "audit spoofing-attempt",
      'send <db:result from="montague.example" to="capulet.example" type="invalid"/>',
      "pair inbound montague.example capulet.example invalid",
      "send close",
      "closed us",
    ]);
  });

  it("an unhosted target -> host-unknown stream error", () => {
    const { s } = receiving({ version: false });
    expect(show(request(s, "capulet.example", "nothere.example")).slice(-3)).toEqual([
      'send <stream:error><host-unknown xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error>',
      "send close",
      "closed us host-unknown",
    ]);
  });

  it("TLS required -> not-authorized stream error (XEP-0238 §4.4)", () => {
    const { s } = receiving({ version: false, secure: false, policy: { ...ALLOW, minLevel: "encrypted" } });
    expect(show(request(s)).slice(-2)).toEqual(["send close", "closed us not-authorized"]);
  });
});

describe("RFC 6120 §4.9 stream errors, always followed by the close", () => {
  const cases: [string, () => S2SStream, string][] = [
    [
      "host-unknown: header to a domain we do not host",
      () => {
        const s = receiving().s;
        const t = new S2SStream({ role: "receiving", policy: new TestPolicy(["montague.example"]), transport: { secure: true, canStartTls: false }, now: NOW, newStreamId: () => asStreamId("E1") });
        void s;
        t.handleOpen(header("capulet.example", "nothere.example"), NOW);
        return t;
      },
      "host-unknown",
    ],
    [
      "invalid-namespace: not jabber:server",
      () => {
        const t = new S2SStream({ role: "receiving", policy: new TestPolicy(["montague.example"]), transport: { secure: true, canStartTls: false }, now: NOW, newStreamId: () => asStreamId("E2") });
        t.handleOpen(header("capulet.example", "montague.example", { xmlns: "jabber:client" }), NOW);
        return t;
      },
      "invalid-namespace",
    ],
    [
      "invalid-from: a malformed 'from' in the header",
      () => {
        const t = new S2SStream({ role: "receiving", policy: new TestPolicy(["montague.example"]), transport: { secure: true, canStartTls: false }, now: NOW, newStreamId: () => asStreamId("E3") });
        t.handleOpen(header("bad domain!", "montague.example"), NOW);
        return t;
      },
      "invalid-from",
    ],
    [
      "invalid-from: a stanza on an unverified pair",
      () => {
        const { s } = receiving();
        s.handleElement(msg("juliet@capulet.example", "romeo@montague.example"), NOW);
        return s;
      },
      "invalid-from",
    ],
    [
      "host-unknown: a stanza to an unhosted domain",
      () => {
        const { s } = receiving();
        s.handleElement(msg("juliet@capulet.example", "romeo@elsewhere.example"), NOW);
        return s;
      },
      "host-unknown",
    ],
    [
      "improper-addressing: a stanza without 'to'",
      () => {
        const { s } = receiving();
        s.handleElement(el(`<message from='juliet@capulet.example'/>`), NOW);
        return s;
      },
      "improper-addressing",
    ],
    [
      "unsupported-stanza-type: an unknown first-level element",
      () => {
        const { s } = receiving();
        s.handleElement(el(`<foo xmlns='urn:example:foo'/>`), NOW);
        return s;
      },
      "unsupported-stanza-type",
    ],
    [
      "connection-timeout: negotiation did not finish",
      () => {
        const t = new S2SStream({ role: "receiving", policy: new TestPolicy(["montague.example"]), transport: { secure: true, canStartTls: false }, now: NOW });
        t.handleTimeout(t.pollTimeout()!);
        return t;
      },
      "connection-timeout",
    ],
  ];
  for (const [name, make, cond] of cases) {
    it(name, () => {
      const out = show(make().drainActions());
      expect(out.slice(-3)).toEqual([
        expect.stringMatching(new RegExp(`^send <stream:error><${cond} xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>`)),
        "send close",
        `closed us ${cond}`,
      ]);
    });
  }

  it("sends its own header first when the error comes before it (RFC 6120 §4.9.1.2)", () => {
    const t = new S2SStream({ role: "receiving", policy: new TestPolicy(["montague.example"]), transport: { secure: true, canStartTls: false }, now: NOW, newStreamId: () => asStreamId("H1") });
    t.handleOpen(header("capulet.example", "nothere.example"), NOW);
    const out = t.drainActions();
    expect(out[0]).toMatchObject({ type: "send", data: { kind: "header", attrs: { from: "nothere.example", to: "capulet.example", id: "H1" } } });
  });

  it("a stream error from the peer closes our side too and bounces what was queued", () => {
    const s = new S2SStream({ role: "initiating", policy: new TestPolicy(["capulet.example"]), transport: { secure: true, canStartTls: false }, now: NOW, local: d("capulet.example"), remote: d("montague.example") });
    s.start(NOW);
    s.handleOpen({ ...header("montague.example", "capulet.example"), id: "X" }, NOW);
    s.sendStanza(msg("juliet@capulet.example", "romeo@montague.example", "q"), NOW);
    s.drainActions();
    s.handleElement(el(`<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`), NOW);
    expect(show(s.drainActions())).toEqual([
      "send close",
      // The peer does not serve the domain: RFC 6120 §8.3.3.14, not a timeout (issue 12).
      "pair outbound capulet.example montague.example error remote-server-not-found",
      "bounce remote-server-not-found q",
      "closed peer host-unknown",
    ]);
  });
});
