// drive(): the shell's one async step. It performs key work with DialbackKeys and hands back every
// other action in order.

import { describe, expect, it } from "vitest";
import { DialbackKeys, type KeyCheck, type KeyFormula, type KeyInput } from "../../../src/dialback/keys.js";
import { drive, S2SStream } from "../../../src/engine/index.js";
import { asStreamId } from "../../../src/types.js";
import { TestPolicy, d, driveOneByOne, el, msg, openInitiating, openReceiving, show } from "./harness.js";

/** DialbackKeys that counts how it is called. */
class CountingKeys extends DialbackKeys {
  calls = { generate: 0, verify: 0, verifyMany: 0 };
  override generate(input: KeyInput): Promise<string> {
    this.calls.generate++;
    return super.generate(input);
  }
  override verify(input: KeyInput, key: string, formulas?: readonly KeyFormula[]): Promise<boolean> {
    this.calls.verify++;
    return super.verify(input, key, formulas);
  }
  override verifyMany(checks: readonly KeyCheck[], formulas?: readonly KeyFormula[]): Promise<boolean[]> {
    this.calls.verifyMany++;
    return super.verifyMany(checks, formulas);
  }
}

describe("drive()", () => {
  it("generates keys, checks keys, and returns the rest in order", async () => {
    const keys = new DialbackKeys("drive-secret-0123456789");
    const s = new S2SStream({
      role: "initiating",
      policy: new TestPolicy(["capulet.example"]),
      transport: { secure: true, canStartTls: false },
      now: 0,
      local: d("capulet.example"),
      remote: d("montague.example"),
    });
    s.start(0);
    s.handleOpen({ xmlns: "jabber:server", "xmlns:db": "jabber:server:dialback", "xmlns:stream": "http://etherx.jabber.org/streams", id: "D1", version: "1.0" }, 0);
    s.handleElement(el(`<stream:features/>`), 0);
    s.sendStanza(msg("a@capulet.example", "b@montague.example"), 0);
    const key = await keys.generate({ receiving: d("montague.example"), originating: d("capulet.example"), streamId: asStreamId("D1") });
    // The peer, as authority of nothing we host, asks us to check a key for us (authoritative role).
    s.handleElement(el(`<db:verify from='montague.example' to='capulet.example' id='D1'>${key.replace(/^./, "0")}</db:verify>`), 0);
    const out = await drive(s, keys, () => 0);
    expect(out.map((a) => a.type)).toEqual(["send", "pair-state", "send", "send"]);
    const texts = out.flatMap((a) => (a.type === "send" && a.data.kind === "element" ? [a.data.element.toString()] : []));
    expect(texts).toEqual([
      `<db:result from="capulet.example" to="montague.example">${key}</db:result>`,
      '<db:verify from="capulet.example" to="montague.example" id="D1" type="invalid"/>',
    ]);
    expect(s.pollAction()).toBeUndefined();
  });

  it("checks every pending key in one verifyMany, with the same actions in the same order as one at a time", async () => {
    const secret = "drive-batch-secret-0123456789";
    const ref = new DialbackKeys(secret);
    const valid = await ref.generate({ receiving: d("capulet.example"), originating: d("montague.example"), streamId: asStreamId("V1") });
    // The peer (authority side) sends db:verify requests, a db:result and a stanza, interleaved.
    const feed = (s: S2SStream) => {
      s.handleElement(el(`<db:verify from='capulet.example' to='montague.example' id='V1'>${valid}</db:verify>`), 0);
      s.handleElement(el(`<db:result from='capulet.example' to='montague.example'>abc</db:result>`), 0);
      s.handleElement(el(`<db:verify from='capulet.example' to='montague.example' id='V2'>${valid}</db:verify>`), 0);
      s.handleElement(el(`<db:verify from='capulet.example' to='montague.example' id='V1'>${"0".repeat(64)}</db:verify>`), 0);
      s.handleElement(el(`<db:verify from='capulet.example' to='nowhere.example' id='V3'>${valid}</db:verify>`), 0);
      s.handleElement(el(`<db:verify from='capulet.example' to='montague.example' id='V1'>${valid}</db:verify>`), 0);
    };
    const open = () => openReceiving({ now: 0, local: "montague.example", remote: "capulet.example", id: "R1" });
    const a = open();
    const b = open();
    feed(a);
    feed(b);
    const keys = new CountingKeys(secret);
    const batched = show(await drive(a, keys, () => 0));
    const oneByOne = show(await driveOneByOne(b, ref, () => 0));
    expect(batched).toEqual(oneByOne);
    expect(batched.filter((x) => x.includes("db:verify"))).toEqual([
      'send <db:verify from="nowhere.example" to="capulet.example" id="V3" type="error"><error type="cancel"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></db:verify>',
      'send <db:verify from="montague.example" to="capulet.example" id="V1" type="valid"/>',
      'send <db:verify from="montague.example" to="capulet.example" id="V2" type="invalid"/>',
      'send <db:verify from="montague.example" to="capulet.example" id="V1" type="invalid"/>',
      'send <db:verify from="montague.example" to="capulet.example" id="V1" type="valid"/>',
    ]);
    expect(keys.calls).toEqual({ generate: 0, verify: 0, verifyMany: 1 });
  });

  it("generates the keys of several new pairs together, in the same order as one at a time", async () => {
    const secret = "drive-batch-secret-0123456789";
    const hosted = ["capulet.example", "a.capulet.example", "b.capulet.example"];
    const open = () => openInitiating({ now: 0, local: "capulet.example", remote: "montague.example", id: "G1", hosted });
    const a = open();
    const b = open();
    for (const s of [a, b]) for (const h of hosted) s.sendStanza(msg(`u@${h}`, "v@montague.example"), 0);
    const keys = new CountingKeys(secret);
    const batched = show(await drive(a, keys, () => 0));
    expect(batched).toEqual(show(await driveOneByOne(b, new DialbackKeys(secret), () => 0)));
    expect(batched.filter((x) => x.startsWith("send <db:result"))).toHaveLength(3);
    expect(keys.calls.generate).toBe(3);
  });
});
