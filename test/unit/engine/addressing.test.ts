// Domain comparison (RFC 6120 §3.2 / RFC 7622), certificate name matching (RFC 6125 §6.4) and
// XEP-0344 §2.4/2.5 "dialback without dialback".

import { describe, expect, it } from "vitest";
import { certificateValidFor, S2SStream } from "../../../src/engine/index.js";
import { jidDomain, toDomain } from "../../../src/stream/addressing.js";
import { asStreamId } from "../../../src/types.js";
import { ALLOW, TestPolicy, d, el, msg, show } from "./harness.js";

describe("domains", () => {
  it("normalises case, trailing dots and IDNs; refuses non-domains", () => {
    expect(toDomain("Example.COM.")).toBe("example.com");
    expect(toDomain("bücher.example")).toBe("xn--bcher-kva.example");
    expect(toDomain("10.0.0.1")).toBeUndefined();
    expect(toDomain("a b")).toBeUndefined();
    expect(toDomain("")).toBeUndefined();
  });

  it("takes the domainpart of a JID (resource may contain @ and /)", () => {
    expect(jidDomain("juliet@Capulet.Example/balcony@x/y")).toBe("capulet.example");
    expect(jidDomain("capulet.example")).toBe("capulet.example");
    expect(jidDomain("@")).toBeUndefined();
  });

  it("treats differently-cased addresses as the same verified pair", () => {
    const s = new S2SStream({ role: "receiving", policy: new TestPolicy(["montague.example"]), transport: { secure: true, canStartTls: false }, now: 0, newStreamId: () => asStreamId("C1") });
    s.handleOpen({ xmlns: "jabber:server", "xmlns:db": "jabber:server:dialback", from: "capulet.example", to: "montague.example", version: "1.0" }, 0);
    s.handleElement(el(`<db:result from='CAPULET.example' to='Montague.Example'>k</db:result>`), 0);
    const v = s.drainActions().find((a) => a.type === "verify") as { handle: number; from: string; to: string };
    expect([v.from, v.to]).toEqual(["montague.example", "capulet.example"]);
    s.handleVerifyResult(v.handle, { type: "valid" }, 0);
    s.handleElement(msg("juliet@capulet.EXAMPLE", "romeo@MONTAGUE.example"), 0);
    expect(show(s.drainActions()).at(-1)).toMatch(/^deliver/);
  });
});

describe("certificate names (RFC 6125 §6.4)", () => {
  const cert = { status: "valid" as const, names: ["capulet.example", "*.rooms.example"] };
  it("matches exact names and one-label wildcards only, and only for CA-valid certificates", () => {
    expect(certificateValidFor(cert, d("capulet.example"))).toBe(true);
    expect(certificateValidFor(cert, d("a.rooms.example"))).toBe(true);
    expect(certificateValidFor(cert, d("a.b.rooms.example"))).toBe(false);
    expect(certificateValidFor(cert, d("rooms.example"))).toBe(false);
    expect(certificateValidFor({ ...cert, status: "untrusted" }, d("capulet.example"))).toBe(false);
    expect(certificateValidFor(undefined, d("capulet.example"))).toBe(false);
  });
});

describe("XEP-0344 §2.5 dialback without dialback", () => {
  it("answers type='valid' at once when the TLS certificate is trustworthy for the sender", () => {
    const s = new S2SStream({
      role: "receiving",
      policy: new TestPolicy(["montague.example"], ALLOW),
      transport: { secure: false, canStartTls: true },
      now: 0,
      newStreamId: () => asStreamId("D60000229F"),
    });
    const hdr = { "xmlns:stream": "http://etherx.jabber.org/streams", xmlns: "jabber:server", "xmlns:db": "jabber:server:dialback", from: "capulet.example", to: "montague.example", version: "1.0" };
    s.handleOpen(hdr, 0);
    s.handleElement(el(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`), 0);
    s.handleTlsEstablished({ peerCertificate: { status: "valid", names: ["capulet.example"] } }, 0);
    s.handleOpen(hdr, 0);
    s.drainActions();
    s.handleElement(el(`<db:result from='capulet.example' to='montague.example'>b4835385f37fe2895af6c196b59097b16862406db80559900d96bf6fa7d23df3</db:result>`), 0);
    expect(show(s.drainActions())).toEqual([
      'send <db:result from="montague.example" to="capulet.example" type="valid"/>',
      "pair inbound montague.example capulet.example valid",
    ]);
    // The same certificate does not vouch for another sender on the stream: that one is dialled back.
    s.handleElement(el(`<db:result from='rooms.capulet.example' to='montague.example'>k2</db:result>`), 0);
    expect(show(s.drainActions()).at(-1)).toMatch(/^verify montague.example rooms.capulet.example D60000229F k2/);
  });
});
