import { describe, expect, it } from "vitest";
import { constantTimeEqual, DialbackKeys, generateSecret } from "../../src/dialback/keys.js";
import { asDomain, asStreamId } from "../../src/types.js";

const input = (receiving: string, originating: string, id: string) => ({
  receiving: asDomain(receiving),
  originating: asDomain(originating),
  streamId: asStreamId(id),
});

describe("XEP-0185 dialback keys", () => {
  it("matches the XEP-0220 §2.2.2 known answer", async () => {
    const keys = new DialbackKeys("d14lb4ck43v3r");
    expect(await keys.generate(input("capulet.example", "montague.example", "417GAF25"))).toBe(
      "225cc5aa6a071133249d25fef42ae516fc7a86c523aa1c6980a7f73e784c972d",
    );
  });

  it("matches the independently checked vectors", async () => {
    const keys = new DialbackKeys("s3cr3tf0rd14lb4ck");
    expect(await keys.generate(input("xmpp.example.com", "example.org", "D60000229F"))).toBe(
      "37c69b1cf07a3f67c04a5ef5902fa5114f2c76fe4a2686482ba5b89323075643",
    );
    expect(await keys.generate(input("montague.example", "capulet.example", "D60000229F"))).toBe(
      "b4835385f37fe2895af6c196b59097b16862406db80559900d96bf6fa7d23df3",
    );
  });

  it("verifies its own keys and refuses a key for another receiving domain (Openfire id-only replay)", async () => {
    const keys = new DialbackKeys("s3cr3tf0rd14lb4ck");
    const k = await keys.generate(input("b.example", "a.example", "S1"));
    expect(await keys.verify(input("b.example", "a.example", "S1"), k)).toBe(true);
    expect(await keys.verify(input("c.example", "a.example", "S1"), k)).toBe(false);
    expect(await keys.verify(input("b.example", "a.example", "S2"), k)).toBe(false);
    expect(await keys.verify(input("a.example", "b.example", "S1"), k)).toBe(false);
  });

  it("gives different keys for boundary-shifted fields (CVE-2016-0756)", async () => {
    const keys = new DialbackKeys("s3cr3tf0rd14lb4ck");
    const a = await keys.generate(input("ab.example", "c", "x"));
    const b = await keys.generate(input("ab", "example c", "x"));
    expect(a).not.toBe(b);
  });

  it("accepts keys minted with a retired secret only when it is listed", async () => {
    const old = new DialbackKeys("old-secret-0123456789");
    const k = await old.generate(input("b.example", "a.example", "S1"));
    expect(await new DialbackKeys("new-secret-0123456789").verify(input("b.example", "a.example", "S1"), k)).toBe(false);
    const rotated = new DialbackKeys("new-secret-0123456789", ["old-secret-0123456789"]);
    expect(await rotated.verify(input("b.example", "a.example", "S1"), k)).toBe(true);
  });

  it("accepts MongooseIM's originating-first order only when configured", async () => {
    const xep = new DialbackKeys("s3cr3tf0rd14lb4ck");
    // MongooseIM text: originating + receiving + id, i.e. the XEP-0185 text with domains swapped.
    const mongoose = await xep.generate(input("example.org", "xmpp.example.com", "D60000229F"));
    const i = input("xmpp.example.com", "example.org", "D60000229F");
    expect(await xep.verify(i, mongoose)).toBe(false);
    const both = new DialbackKeys("s3cr3tf0rd14lb4ck", [], ["xep0185", "originating-first"]);
    expect(await both.verify(i, mongoose)).toBe(true);
  });

  it("compares keys exactly", () => {
    expect(constantTimeEqual("abc", "abc")).toBe(true);
    expect(constantTimeEqual("abc", "abd")).toBe(false);
    expect(constantTimeEqual("abc", "abcd")).toBe(false);
    expect(constantTimeEqual("", "a")).toBe(false);
  });

  it("generates 256-bit secrets", () => {
    const s = generateSecret();
    expect(s).toMatch(/^[0-9a-f]{64}$/);
    expect(generateSecret()).not.toBe(s);
  });
});
