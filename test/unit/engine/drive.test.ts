// drive(): the shell's one async step. It performs key work with DialbackKeys and hands back every
// other action in order.

import { describe, expect, it } from "vitest";
import { DialbackKeys } from "../../../src/dialback/keys.js";
import { drive, S2SStream } from "../../../src/engine/index.js";
import { asStreamId } from "../../../src/types.js";
import { TestPolicy, d, el, msg } from "./harness.js";

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
});
