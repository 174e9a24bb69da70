// DialbackKeys.verifyMany (bulk verification) and the presented-key checks of the faster verify().

import { describe, expect, it } from "vitest";
import { DialbackKeys } from "../../src/dialback/keys.js";
import { asDomain, asStreamId } from "../../src/types.js";

const input = (receiving: string, originating: string, id: string) => ({
  receiving: asDomain(receiving),
  originating: asDomain(originating),
  streamId: asStreamId(id),
});

describe("DialbackKeys.verifyMany", () => {
  it("gives the same answers as verify(), in order", async () => {
    const keys = new DialbackKeys("s3cr3tf0rd14lb4ck");
    const good = await keys.generate(input("b.example", "a.example", "S1"));
    const checks = [
      { input: input("b.example", "a.example", "S1"), key: good },
      { input: input("c.example", "a.example", "S1"), key: good },
      { input: input("b.example", "a.example", "S2"), key: good },
      { input: input("xmpp.example.com", "example.org", "D60000229F"), key: "37c69b1cf07a3f67c04a5ef5902fa5114f2c76fe4a2686482ba5b89323075643" },
    ];
    const bulk = await keys.verifyMany(checks);
    expect(bulk).toEqual([true, false, false, true]);
    expect(await Promise.all(checks.map((c) => keys.verify(c.input, c.key)))).toEqual(bulk);
    expect(await keys.verifyMany([])).toEqual([]);
  });

  it("accepts retired secrets and configured formulas in bulk too", async () => {
    const old = new DialbackKeys("old-secret-0123456789");
    const i = input("xmpp.example.com", "example.org", "D60000229F");
    const byOld = await old.generate(i);
    const mongoose = await old.generate(input("example.org", "xmpp.example.com", "D60000229F"));
    const rotated = new DialbackKeys("new-secret-0123456789", ["old-secret-0123456789"], ["xep0185", "originating-first"]);
    expect(await rotated.verifyMany([{ input: i, key: byOld }, { input: i, key: mongoose }, { input: i, key: "0".repeat(64) }])).toEqual([
      true,
      true,
      false,
    ]);
    const xepOnly = new DialbackKeys("new-secret-0123456789", ["old-secret-0123456789"]);
    expect(await xepOnly.verifyMany([{ input: i, key: mongoose }])).toEqual([false]);
  });

  it("refuses keys that are not 64 lowercase hex digits, before or after the secret is imported", async () => {
    const keys = new DialbackKeys("d14lb4ck43v3r");
    const i = input("capulet.example", "montague.example", "417GAF25");
    const good = "225cc5aa6a071133249d25fef42ae516fc7a86c523aa1c6980a7f73e784c972d";
    // First call races the key import: it must wait for it, not fail.
    expect(await keys.verify(i, good)).toBe(true);
    for (const bad of [good.toUpperCase(), good.slice(0, 63), `${good}0`, "", `${good.slice(0, 62)}zz`, `${good.slice(0, 63)}\u0100`]) {
      expect(await keys.verify(i, bad)).toBe(false);
      expect(await keys.verifyMany([{ input: i, key: bad }])).toEqual([false]);
    }
  });
});
