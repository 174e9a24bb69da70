// SASL EXTERNAL on inbound server-to-server streams (RFC 6120 §6, XEP-0178 §2): offered only to a
// peer whose certificate is valid for the domain in its header, authenticates that pair as "trusted"
// without dialback, restarts the stream, and refuses every bad variant with the RFC 6120 §6.5 failure
// while keeping the stream for dialback.

import { describe, expect, it } from "vitest";
import { S2SStream, type Action, type RemotePolicy, type StreamSnapshot } from "../../../src/engine/index.js";
import { newStreamId } from "../../../src/types.js";
import { ALLOW, TestPolicy, d, el, msg, receivingStream } from "./harness.js";
import { MAX_SASL_FAILURES } from "../../../src/stream/sasl.js";

const NOW = 5000;
const SASL = "urn:ietf:params:xml:ns:xmpp-sasl";
const header = (from = "capulet.example", to = "montague.example") => ({
  xmlns: "jabber:server",
  "xmlns:db": "jabber:server:dialback",
  "xmlns:stream": "http://etherx.jabber.org/streams",
  version: "1.0",
  from,
  to,
});
const sends = (as: Action[]) => as.flatMap((a) => (a.type === "send" && a.data.kind === "element" ? [a.data.element.toString()] : []));
const headersSent = (as: Action[]) => as.flatMap((a) => (a.type === "send" && a.data.kind === "header" ? [a.data.attrs] : []));
const auth = (text = "=", mechanism = "EXTERNAL") => el(`<auth xmlns='${SASL}' mechanism='${mechanism}'>${text}</auth>`);
const b64 = (s: string) => btoa(s);

function receiving(opts: { names?: string[]; status?: "valid" | "untrusted"; secure?: boolean; policy?: RemotePolicy } = {}) {
  const policy = new TestPolicy(["montague.example"], opts.policy ?? ALLOW);
  const s = receivingStream(policy, {
    now: NOW,
    ...(opts.secure !== undefined ? { secure: opts.secure } : {}),
    ...(opts.names ? { cert: { status: opts.status ?? "valid", names: opts.names } } : {}),
    newStreamId,
  });
  s.handleOpen(header(), NOW);
  return { s, policy, first: s.drainActions() };
}

const offered = (as: Action[]) => sends(as).some((x) => x.includes("<mechanism>EXTERNAL</mechanism>"));

describe("SASL EXTERNAL is offered", () => {
  it("to a TLS peer whose certificate is valid for the header's from, next to dialback", () => {
    const { first } = receiving({ names: ["capulet.example"] });
    const features = sends(first).find((x) => x.startsWith("<stream:features"))!;
    expect(features).toContain(`<mechanisms xmlns="${SASL}"><mechanism>EXTERNAL</mechanism></mechanisms>`);
    expect(features).toContain("urn:xmpp:features:dialback");
  });

  it("also for a wildcard certificate (RFC 6125 §6.4.3)", () => {
    expect(offered(receiving({ names: ["*.example"] }).first)).toBe(true);
  });

  it("not without TLS, without a certificate, with an untrusted one, one for another name, or to a domain policy refuses", () => {
    expect(offered(receiving({ names: ["capulet.example"], secure: false }).first)).toBe(false);
    expect(offered(receiving({}).first)).toBe(false);
    expect(offered(receiving({ names: ["capulet.example"], status: "untrusted" }).first)).toBe(false);
    expect(offered(receiving({ names: ["other.example"] }).first)).toBe(false);
    expect(offered(receiving({ names: ["capulet.example"], policy: { allowed: false, condition: "forbidden" } as RemotePolicy }).first)).toBe(false);
  });
});

describe("<auth mechanism='EXTERNAL'/>", () => {
  for (const [name, text] of [["with '=' (no authzid)", "="], ["empty", ""], ["with the domain as authzid", b64("capulet.example")]] as const) {
    it(`${name}: success, the pair is valid at level trusted, and the stream restarts with a new id`, () => {
      const { s, first } = receiving({ names: ["capulet.example"] });
      const firstId = headersSent(first)[0]!.id;
      s.handleElement(auth(text), NOW);
      const out = s.drainActions();
      expect(sends(out)).toEqual([`<success xmlns="${SASL}"/>`]);
      expect(out).toContainEqual(expect.objectContaining({ type: "pair-state", direction: "inbound", local: "montague.example", remote: "capulet.example", state: "valid", level: "trusted", via: "sasl-external" }));
      expect(s.pairState("inbound", d("montague.example"), d("capulet.example"))).toBe("valid");
      expect(s.phase).toBe("awaiting-header");
      // RFC 6120 §6.4.6: the peer's new header gets a new header with a new id, and new features.
      s.handleOpen(header(), NOW);
      const again = s.drainActions();
      const h = headersSent(again)[0]!;
      expect(h.id).toBeDefined();
      expect(h.id).not.toBe(firstId);
      const features = sends(again).find((x) => x.startsWith("<stream:features"))!;
      expect(features).not.toContain("EXTERNAL");
      expect(features).toContain("urn:xmpp:features:dialback");
      // Stanzas flow on the authenticated pair, with no dialback at all.
      s.handleElement(msg("romeo@capulet.example", "juliet@montague.example", "hi"), NOW);
      expect(s.drainActions()).toContainEqual(expect.objectContaining({ type: "deliver", from: "capulet.example", to: "montague.example" }));
    });
  }

  const failures: [string, ReturnType<typeof auth>, string][] = [
    ["another mechanism: invalid-mechanism", auth("=", "PLAIN"), "invalid-mechanism"],
    ["an authzid that is not base64: incorrect-encoding", auth("not base64!"), "incorrect-encoding"],
    ["an authzid for another domain: invalid-authzid", auth(b64("other.example")), "invalid-authzid"],
  ];
  for (const [name, element, condition] of failures) {
    it(`${name}; the stream stays for dialback`, () => {
      const { s } = receiving({ names: ["capulet.example"] });
      s.handleElement(element, NOW);
      expect(sends(s.drainActions())).toEqual([`<failure xmlns="${SASL}"><${condition}/></failure>`]);
      expect(s.phase).toBe("open");
      expect(s.pairState("inbound", d("montague.example"), d("capulet.example"))).toBe("none");
      s.handleElement(el("<db:result from='capulet.example' to='montague.example'>key</db:result>"), NOW);
      // A valid certificate: dialback without dial-back (XEP-0344), so the pair is valid at once.
      expect(sends(s.drainActions())).toContainEqual(expect.stringContaining('type="valid"'));
    });
  }

  it("XEP-0288: <bidi/> asked for before <auth/> stays on over the restart, and is not offered again", () => {
    const { s, first } = receiving({ names: ["capulet.example"] });
    expect(sends(first).find((x) => x.startsWith("<stream:features"))).toContain("urn:xmpp:features:bidi");
    s.handleElement(el("<bidi xmlns='urn:xmpp:bidi'/>"), NOW);
    s.handleElement(auth(b64("capulet.example")), NOW);
    s.drainActions();
    s.handleOpen(header(), NOW);
    const features = sends(s.drainActions()).find((x) => x.startsWith("<stream:features"))!;
    expect(features).not.toContain("bidi");
    expect(s.bidi).toBe(true);
    // The receiving side may now send from the stream's 'to' to the authenticated domain (XEP-0288 §2.2).
    s.sendStanza(msg("juliet@montague.example", "romeo@capulet.example", "m2", "back"), NOW);
    expect(sends(s.drainActions()).join("")).toContain("<body>back</body>");
  });

  it(`after ${MAX_SASL_FAILURES} failures, one more attempt ends the stream with policy-violation (RFC 6120 §6.4.5)`, () => {
    const { s } = receiving({ names: ["capulet.example"] });
    for (let i = 0; i < MAX_SASL_FAILURES; i++) {
      s.handleElement(auth("=", "PLAIN"), NOW);
      expect(sends(s.drainActions())).toEqual([`<failure xmlns="${SASL}"><invalid-mechanism/></failure>`]);
    }
    // The count survives hibernation.
    const r = S2SStream.restore(JSON.parse(JSON.stringify(s.snapshot())) as StreamSnapshot, {
      policy: new TestPolicy(["montague.example"]), transport: { secure: true, canStartTls: false, peerCertificate: { status: "valid", names: ["capulet.example"] } },
    });
    r.handleElement(auth("=", "PLAIN"), NOW);
    expect(sends(r.drainActions()).join("")).toContain("policy-violation");
    expect(r.phase).toBe("closed");
  });

  it("<abort/>: failure aborted", () => {
    const { s } = receiving({ names: ["capulet.example"] });
    s.handleElement(el(`<abort xmlns='${SASL}'/>`), NOW);
    expect(sends(s.drainActions())).toEqual([`<failure xmlns="${SASL}"><aborted/></failure>`]);
  });

  it("when it was not offered: unsupported-stanza-type stream error", () => {
    const { s } = receiving({});
    s.handleElement(auth(), NOW);
    const out = s.drainActions();
    expect(sends(out).join("")).toContain("unsupported-stanza-type");
    expect(s.phase).toBe("closed");
  });

  it("a second <auth/> after success, before the restart, is refused", () => {
    const { s } = receiving({ names: ["capulet.example"] });
    s.handleElement(auth(), NOW);
    s.drainActions();
    s.handleElement(auth(), NOW);
    expect(sends(s.drainActions()).join("")).toMatch(/not-authorized|unsupported-stanza-type/);
    expect(s.phase).toBe("closed");
  });

  it("survives a snapshot between the offer and the <auth/>", () => {
    const { s, policy } = receiving({ names: ["capulet.example"] });
    const snap = JSON.parse(JSON.stringify(s.snapshot())) as StreamSnapshot;
    const r = S2SStream.restore(snap, { policy, transport: { secure: true, canStartTls: false, peerCertificate: { status: "valid", names: ["capulet.example"] } } });
    r.handleElement(auth(), NOW);
    expect(sends(r.drainActions())).toEqual([`<success xmlns="${SASL}"/>`]);
    // A snapshot from before SASL existed (no `sasl` fact) restores as "not offered".
    const { sasl: _, ...old } = snap;
    const o = S2SStream.restore(old as StreamSnapshot, { policy, transport: { secure: true, canStartTls: false } });
    o.handleElement(auth(), NOW);
    expect(o.phase).toBe("closed");
  });
});
