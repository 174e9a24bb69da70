// The session half of the bidi send path (durable-objects/lib/bidi-route.ts): a receiving stream
// sends an application stanza only when XEP-0288 §2 lets it send at once, and says "gone" whenever
// the stanza did not leave, so the RemoteDomain keeps it for its outbound path (nothing is lost).
import { describe, expect, it } from "vitest";
import { DialbackKeys } from "../../src/dialback/keys.js";
import { S2SStream, type Outgoing } from "../../src/engine/index.js";
import { asStreamId } from "../../src/types.js";
import { trySendBidi } from "../../durable-objects/lib/bidi-route.js";
import { SessionHost, type Effects } from "../../durable-objects/lib/session-host.js";
import type { SessionStore } from "../../durable-objects/lib/store.js";
import { TestPolicy, el } from "./engine/harness.js";

const NOW = 1;
const HEADER = { xmlns: "jabber:server", "xmlns:db": "jabber:server:dialback", "xmlns:stream": "http://etherx.jabber.org/streams", to: "edge.test", from: "peer.test", version: "1.0" };

/** A receiving stream on which peer.test -> edge.test is verified, with or without bidi. */
function verifiedStream(bidi: boolean): S2SStream {
  const s = new S2SStream({
    role: "receiving",
    policy: new TestPolicy(["edge.test", "chat.edge.test"]),
    transport: { secure: true, canStartTls: false, peerCertificate: { status: "none", names: [] } },
    now: NOW,
    newStreamId: () => asStreamId("s1"),
  });
  s.handleOpen(HEADER, NOW);
  if (bidi) s.handleElement(el(`<bidi xmlns='urn:xmpp:bidi'/>`), NOW);
  s.handleElement(el(`<db:result from='peer.test' to='edge.test'>k</db:result>`), NOW);
  const v = s.drainActions().find((a) => a.type === "verify");
  if (v?.type !== "verify") throw new Error("no verify action");
  s.handleVerifyResult(v.handle, { type: "valid" }, NOW);
  s.drainActions();
  expect(s.pairState("inbound", "edge.test" as never, "peer.test" as never)).toBe("valid");
  return s;
}

function hostFor(stream: S2SStream, write: (o: Outgoing) => void = () => {}) {
  const written: string[] = [];
  const link = {
    write: (o: Outgoing) => {
      write(o);
      if (o.kind === "element") written.push(o.element.toString());
    },
    close: () => {},
  };
  const effects: Effects = { verify: async () => ({ type: "valid" }), deliver: () => {}, bounce: () => {}, observe: () => {} };
  const store = { put: () => {} } as unknown as SessionStore;
  const host = new SessionHost(stream, link, effects, new DialbackKeys("test-secret-0123456789abcdef"), store, () => {}, () => NOW);
  return { host, written };
}

const out = (from: string, id: string) => `<message from='app@${from}' to='carol@peer.test' id='${id}'><body>x</body></message>`;

describe("trySendBidi (XEP-0288 §2: the receiving side sends for the inverse of verified pairs)", () => {
  it("sends the inverse of a pair verified on a bidi stream at once", async () => {
    const { host, written } = hostFor(verifiedStream(true));
    expect(await trySendBidi(host, true, out("edge.test", "a"))).toBe("sent");
    expect(written).toEqual([`<message from="app@edge.test" to="carol@peer.test" id="a"><body>x</body></message>`]);
  });

  it("refuses another local domain without starting dialback on the peer's stream", async () => {
    const { host, written } = hostFor(verifiedStream(true));
    expect(await trySendBidi(host, true, out("chat.edge.test", "b"))).toBe("refused");
    expect(written).toEqual([]);
    expect(host.stream.pairState("outbound", "chat.edge.test" as never, "peer.test" as never)).toBe("none");
  });

  it("says gone without bidi, on a closed socket, on a closed stream, and when the write fails", async () => {
    expect(await trySendBidi(hostFor(verifiedStream(false)).host, true, out("edge.test", "c"))).toBe("gone");
    expect(await trySendBidi(hostFor(verifiedStream(true)).host, false, out("edge.test", "d"))).toBe("gone");
    expect(await trySendBidi(undefined, true, out("edge.test", "e"))).toBe("gone");

    const closing = hostFor(verifiedStream(true));
    await closing.host.input((s, now) => s.close(now));
    expect(closing.host.closed).toBe(true);
    expect(await trySendBidi(closing.host, true, out("edge.test", "f"))).toBe("gone");

    // The socket went away between the check and the write (the peer's close not yet processed).
    const broken = hostFor(verifiedStream(true), (o) => {
      if (o.kind === "element") throw new Error("WebSocket send() after close");
    });
    expect(await trySendBidi(broken.host, true, out("edge.test", "g"))).toBe("gone");
  });
});
