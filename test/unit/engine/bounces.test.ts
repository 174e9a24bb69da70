// The one bounce table, row by row, as the local sender sees it: every undeliverable stanza
// comes back with its id, from/to swapped, type='error' and the condition of its row.

import { describe, expect, it } from "vitest";
import { S2SStream, type Action, type RemotePolicy } from "../../../src/engine/index.js";
import { ALLOW, TestPolicy, d, el, msg } from "./harness.js";

const NOW = 3;
const header = (id?: string) => ({
  xmlns: "jabber:server",
  "xmlns:db": "jabber:server:dialback",
  "xmlns:stream": "http://etherx.jabber.org/streams",
  from: "montague.example",
  to: "capulet.example",
  version: "1.0",
  ...(id ? { id } : {}),
});

function stream(policy: RemotePolicy = ALLOW, limits = {}) {
  const s = new S2SStream({
    role: "initiating",
    policy: new TestPolicy(["capulet.example"], policy, limits),
    transport: { secure: true, canStartTls: false },
    now: NOW,
    local: d("capulet.example"),
    remote: d("montague.example"),
  });
  s.start(NOW);
  return s;
}

function toOpen(s: S2SStream) {
  s.handleOpen(header("B1"), NOW);
  s.handleElement(el(`<stream:features><dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback></stream:features>`), NOW);
}

function keyed(s: S2SStream) {
  const k = s.drainActions().find((a) => a.type === "key") as { handle: number } | undefined;
  if (k) s.handleKeyGenerated(k.handle, "k", NOW);
}

const probe = () => msg("juliet@capulet.example/balcony", "romeo@montague.example", "p1");

function bounceOf(s: S2SStream): Extract<Action, { type: "bounce" }> {
  const b = s.drainActions().filter((a) => a.type === "bounce") as Extract<Action, { type: "bounce" }>[];
  expect(b).toHaveLength(1);
  return b[0]!;
}

const rows: [string, () => S2SStream, string][] = [
  [
    "no stream could be reached (connect/DNS failure before the peer's header) -> remote-server-not-found",
    () => {
      const s = stream();
      s.sendStanza(probe(), NOW);
      s.handleTransportClosed(NOW);
      return s;
    },
    "remote-server-not-found",
  ],
  [
    "the peer opened a stream but dialback did not finish -> remote-server-timeout",
    () => {
      const s = stream();
      toOpen(s);
      s.sendStanza(probe(), NOW);
      keyed(s);
      s.handleClose(NOW);
      return s;
    },
    "remote-server-timeout",
  ],
  [
    "dialback error -> remote-server-timeout",
    () => {
      const s = stream();
      toOpen(s);
      s.sendStanza(probe(), NOW);
      keyed(s);
      s.handleElement(el(`<db:result from='montague.example' to='capulet.example' type='error'><error type='cancel'><remote-connection-failed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></db:result>`), NOW);
      return s;
    },
    "remote-server-timeout",
  ],
  [
    "invalid -> internal-server-error (seed 001)",
    () => {
      const s = stream();
      toOpen(s);
      s.sendStanza(probe(), NOW);
      keyed(s);
      s.handleElement(el(`<db:result from='montague.example' to='capulet.example' type='invalid'/>`), NOW);
      return s;
    },
    "internal-server-error",
  ],
  [
    "queue full -> resource-constraint",
    () => {
      const s = stream(ALLOW, { maxQueuedPerPair: 0 });
      s.sendStanza(probe(), NOW);
      return s;
    },
    "resource-constraint",
  ],
  [
    "policy refuses the remote -> the policy's condition (forbidden)",
    () => {
      const s = stream({ allowed: false, condition: "forbidden" });
      s.sendStanza(probe(), NOW);
      return s;
    },
    "forbidden",
  ],
  [
    "policy refuses the remote -> the policy's condition (policy-violation)",
    () => {
      const s = stream({ allowed: false, condition: "policy-violation" });
      s.sendStanza(probe(), NOW);
      return s;
    },
    "policy-violation",
  ],
  [
    "policy wants a level this stream cannot reach (no TLS) -> policy-violation",
    () => {
      const s = new S2SStream({
        role: "initiating",
        policy: new TestPolicy(["capulet.example"], { ...ALLOW, minLevel: "encrypted" }),
        transport: { secure: false, canStartTls: false },
        now: NOW,
        local: d("capulet.example"),
        remote: d("montague.example"),
      });
      s.start(NOW);
      toOpen(s);
      s.sendStanza(probe(), NOW);
      keyed(s);
      return s;
    },
    "policy-violation",
  ],
  [
    "STARTTLS fails (e.g. a self-signed certificate) and nothing may work around it -> policy-violation, not a timeout (issue 12)",
    () => {
      const s = new S2SStream({
        role: "initiating",
        policy: new TestPolicy(["capulet.example"], { ...ALLOW, minLevel: "encrypted" }),
        transport: { secure: false, canStartTls: true },
        now: NOW,
        local: d("capulet.example"),
        remote: d("montague.example"),
      });
      s.start(NOW);
      s.sendStanza(probe(), NOW);
      s.handleOpen(header("B1"), NOW);
      s.handleElement(el(`<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>`), NOW);
      s.handleElement(el(`<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`), NOW);
      s.drainActions();
      s.handleTlsFailed(NOW, "invalid peer certificate: UnknownIssuer");
      return s;
    },
    "policy-violation",
  ],
  [
    "the peer requires STARTTLS this side cannot do -> policy-violation",
    () => {
      const s = new S2SStream({
        role: "initiating",
        policy: new TestPolicy(["capulet.example"], ALLOW),
        transport: { secure: false, canStartTls: false },
        now: NOW,
        local: d("capulet.example"),
        remote: d("montague.example"),
      });
      s.start(NOW);
      s.sendStanza(probe(), NOW);
      s.handleOpen(header("B1"), NOW);
      s.handleElement(el(`<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>`), NOW);
      return s;
    },
    "policy-violation",
  ],
  [
    "the peer ends the stream with policy-violation (e.g. TLS required before dialback) -> policy-violation",
    () => {
      const s = stream();
      toOpen(s);
      s.sendStanza(probe(), NOW);
      keyed(s);
      s.handleElement(el(`<stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`), NOW);
      return s;
    },
    "policy-violation",
  ],
  [
    "the peer ends the stream with host-unknown -> remote-server-not-found",
    () => {
      const s = stream();
      toOpen(s);
      s.sendStanza(probe(), NOW);
      keyed(s);
      s.handleElement(el(`<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`), NOW);
      return s;
    },
    "remote-server-not-found",
  ],
];

describe("bounces: one table, used everywhere", () => {
  for (const [name, make, condition] of rows) {
    it(name, () => {
      const b = bounceOf(make());
      expect(b.condition).toBe(condition);
      expect(b.stanza.attrs).toMatchObject({ id: "p1", type: "error", from: "romeo@montague.example", to: "juliet@capulet.example/balcony" });
      expect(b.stanza.getChild("error")!.getChild(condition)).toBeDefined();
      // The original payload is kept so the sender can tell which stanza failed.
      expect(b.stanza.getChildText("body")).toBe("hi");
    });
  }

  it("never bounces an error stanza (RFC 6120 §8.3.1)", () => {
    const s = stream({ allowed: false, condition: "forbidden" });
    s.sendStanza(el(`<message from='juliet@capulet.example' to='romeo@montague.example' type='error' id='e'/>`), NOW);
    expect(s.drainActions().filter((a) => a.type === "bounce")).toEqual([]);
  });
});
