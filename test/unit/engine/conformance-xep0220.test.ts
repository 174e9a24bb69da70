// XEP-0220 examples replayed against a single engine: we feed the peer's lines from the spec and
// compare what the engine sends with the spec's next lines.

import { describe, expect, it } from "vitest";
import { DialbackKeys } from "../../../src/dialback/keys.js";
import { drive, S2SStream, type Action } from "../../../src/engine/index.js";
import { asStreamId } from "../../../src/types.js";
import { TestPolicy, d, el, openInitiating, s2sHeader, sentElements, show } from "./harness.js";

const NOW = 1000;
function receiving(hosted: string[], id = "417GAF25") {
  const s = new S2SStream({
    role: "receiving",
    policy: new TestPolicy(hosted),
    transport: { secure: true, canStartTls: false },
    now: NOW,
    newStreamId: () => asStreamId(id),
  });
  return s;
}

describe("XEP-0220 §2.2.1 receiving server (Examples 1, 2, 3, 8)", () => {
  it("answers the header with our id, offers dialback errors, asks the shell to verify", () => {
    const s = receiving(["montague.example"]);
    s.handleOpen(s2sHeader("capulet.example", "montague.example"), NOW);
    const out = s.drainActions();
    expect(out[0]).toEqual({
      type: "send",
      data: { kind: "header", attrs: { ...s2sHeader("montague.example", "capulet.example"), id: "417GAF25" } },
    });
    expect(sentElements(out)).toEqual([
      "<stream:features><dialback xmlns=\"urn:xmpp:features:dialback\"><errors/></dialback><bidi xmlns=\"urn:xmpp:features:bidi\"/></stream:features>",
    ]);
    s.handleElement(
      el(`<db:result from='capulet.example' to='montague.example'>
        b4835385f37fe2895af6c196b59097b16862406db80559900d96bf6fa7d23df3</db:result>`),
      NOW,
    );
    // Step 2: db:verify from=Target to=Sender id=the stream id *we* sent.
    expect(show(s.drainActions())).toEqual([
      "pair inbound montague.example capulet.example pending",
      "verify montague.example capulet.example 417GAF25 b4835385f37fe2895af6c196b59097b16862406db80559900d96bf6fa7d23df3",
    ]);
  });

  it("sends type='valid' (Example 2) and then accepts stanzas on the pair", () => {
    const s = receiving(["montague.example"]);
    s.handleOpen(s2sHeader("capulet.example", "montague.example"), NOW);
    s.handleElement(el(`<db:result from='capulet.example' to='montague.example'>k</db:result>`), NOW);
    const verify = s.drainActions().find((a) => a.type === "verify")!;
    s.handleVerifyResult((verify as { handle: number }).handle, { type: "valid" }, NOW);
    expect(sentElements(s.drainActions())).toEqual([
      '<db:result from="montague.example" to="capulet.example" type="valid"/>',
    ]);
    s.handleElement(el(`<message from='juliet@capulet.example' to='romeo@montague.example' id='a'/>`), NOW);
    expect(show(s.drainActions())).toEqual([`deliver <message from="juliet@capulet.example" to="romeo@montague.example" id="a"/>`]);
  });

  it("answers an unhosted target with the item-not-found dialback error (Example 4/8), keeping the stream", () => {
    const s = receiving(["montague.example"]);
    s.handleOpen(s2sHeader("capulet.example", "montague.example"), NOW);
    s.drainActions();
    s.handleElement(el(`<db:result from='capulet.example' to='elsewhere.example'>k</db:result>`), NOW);
    expect(sentElements(s.drainActions())).toEqual([
      '<db:result from="elsewhere.example" to="capulet.example" type="error"><error type="cancel"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></db:result>',
    ]);
    expect(s.phase).toBe("open");
  });
});

describe("XEP-0220 §2.2.2 authoritative server (Examples 5, 6, 7, 9)", () => {
  const keys = new DialbackKeys("d14lb4ck43v3r");

  it("answers the spec's db:verify as valid, from/to swapped and id copied", async () => {
    const s = receiving(["montague.example"], "authstream");
    s.handleOpen(s2sHeader("capulet.example", "montague.example"), NOW);
    s.drainActions();
    s.handleElement(
      el(`<db:verify from='capulet.example' id='417GAF25' to='montague.example'>
       225cc5aa6a071133249d25fef42ae516fc7a86c523aa1c6980a7f73e784c972d</db:verify>`),
      NOW,
    );
    expect(sentElements(await drive(s, keys, () => NOW))).toEqual([
      '<db:verify from="montague.example" to="capulet.example" id="417GAF25" type="valid"/>',
    ]);
  });

  it("answers a wrong key as invalid (Example 7)", async () => {
    const s = receiving(["montague.example"], "authstream");
    s.handleOpen(s2sHeader("capulet.example", "montague.example"), NOW);
    s.drainActions();
    s.handleElement(el(`<db:verify from='capulet.example' id='417GAF25' to='montague.example'>deadbeef</db:verify>`), NOW);
    expect(sentElements(await drive(s, keys, () => NOW))).toEqual([
      '<db:verify from="montague.example" to="capulet.example" id="417GAF25" type="invalid"/>',
    ]);
  });

  it("answers a db:verify for a domain we do not host with item-not-found (Example 9)", async () => {
    const s = receiving(["montague.example"], "authstream");
    s.handleOpen(s2sHeader("capulet.example", "montague.example"), NOW);
    s.drainActions();
    s.handleElement(el(`<db:verify from='capulet.example' id='417GAF25' to='other.example'>k</db:verify>`), NOW);
    expect(sentElements(await drive(s, keys, () => NOW))).toEqual([
      '<db:verify from="other.example" to="capulet.example" id="417GAF25" type="error"><error type="cancel"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></db:verify>',
    ]);
  });
});

describe("XEP-0220 §2.1 initiating server", () => {
  const initiating = () => openInitiating({ now: NOW, local: "capulet.example", remote: "montague.example", id: "417GAF25" });

  it("sends db:result with the XEP-0185 key for (target, sender, stream id) (Example 1)", async () => {
    const s = initiating();
    s.sendStanza(el(`<message from='juliet@capulet.example' to='romeo@montague.example' id='q1'/>`), NOW);
    const keys = new DialbackKeys("d14lb4ck43v3r");
    const expectedKey = await keys.generate({ receiving: d("montague.example"), originating: d("capulet.example"), streamId: asStreamId("417GAF25") });
    const out = await drive(s, keys, () => NOW);
    expect(sentElements(out)).toEqual([`<db:result from="capulet.example" to="montague.example">${expectedKey}</db:result>`]);
    expect(s.peerDialbackErrors).toBe(true);
    // Queued until valid (§2.1.1), then flushed.
    s.handleElement(el(`<db:result from='montague.example' to='capulet.example' type='valid'/>`), NOW);
    expect(sentElements(s.drainActions())).toEqual(['<message from="juliet@capulet.example" to="romeo@montague.example" id="q1"/>']);
  });

  it("bounces queued stanzas with remote-server-timeout on a dialback error (Example 4)", async () => {
    const s = initiating();
    s.sendStanza(el(`<message from='juliet@capulet.example' to='romeo@montague.example' id='q2'/>`), NOW);
    await drive(s, new DialbackKeys("d14lb4ck43v3r"), () => NOW);
    s.handleElement(
      el(`<db:result from='montague.example' to='capulet.example' type='error'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></db:result>`),
      NOW,
    );
    const out = s.drainActions();
    expect(show(out)).toEqual(["pair outbound capulet.example montague.example error item-not-found", "bounce remote-server-timeout q2"]);
    const b = out[1] as Extract<Action, { type: "bounce" }>;
    expect(b.stanza.toString()).toBe(
      '<message type="error" id="q2" from="romeo@montague.example" to="juliet@capulet.example"><error type="wait"><remote-server-timeout xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></message>',
    );
    expect(s.phase).toBe("open");
  });

  it("bounces with internal-server-error on type='invalid' (Example 3, seed 001)", async () => {
    const s = initiating();
    s.sendStanza(el(`<message from='juliet@capulet.example' to='romeo@montague.example' id='q3'/>`), NOW);
    await drive(s, new DialbackKeys("d14lb4ck43v3r"), () => NOW);
    s.handleElement(el(`<db:result from='montague.example' to='capulet.example' type='invalid'/>`), NOW);
    expect(show(s.drainActions())).toEqual(["pair outbound capulet.example montague.example invalid", "bounce internal-server-error q3"]);
  });
});
