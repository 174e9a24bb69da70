// Batch messages of the multiplexed ingress link (src/gateway-contract.ts): several mux messages in
// one WebSocket message, each preceded by its length; the edge reads them in order, and refuses a
// malformed batch as it refuses any malformed mux message (the link closes with 1002).
import { describe, expect, it } from "vitest";
import { isMuxBatch, muxBatch, muxControl, muxData, splitMuxBatch } from "../../src/gateway-contract.js";

describe("mux batch messages", () => {
  it("carry data and control messages whole and in order, whatever they contain (colons, digits, non-ASCII)", () => {
    const messages = [
      muxControl({ op: "open", ch: 7, info: { peer: "[2001:db8::1]:5269" } }),
      muxData(7, "<message xmlns='jabber:server' to='a@b'><body>12:34 ☃ 𝄞</body></message>"),
      muxData(12, "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing-server' to='edge.test'/>"),
      muxControl({ op: "close", ch: 7 }),
    ];
    const batch = muxBatch(messages);
    expect(isMuxBatch(batch)).toBe(true);
    expect(splitMuxBatch(batch)).toEqual(messages);
    // Ordinary mux messages are not batches.
    for (const m of messages) expect(isMuxBatch(m)).toBe(false);
  });

  it("refuses what is not a batch of mux messages, with the reason", () => {
    const data = muxData(1, "<a/>");
    for (const [bad, why] of [
      ["*", "empty batch"],
      ["*5:", "does not fit"],
      [`*${data.length + 1}:${data}`, "does not fit"],
      [`*${data.length}${data}`, "length and a colon"],
      [`*x:${data}`, "decimal"],
      [`*0${data.length}:${data}`, "decimal"],
      [`*0:`, "does not fit"],
      [`*${"9".repeat(10)}:${data}`, "length and a colon"],
      [`*${muxBatch([data]).length}:${muxBatch([data])}`, "cannot hold a batch"],
      [`${muxBatch([data])}junk`, "length and a colon"],
    ] as const) {
      const r = splitMuxBatch(bad);
      expect(typeof r, bad).toBe("string");
      expect(r).toContain(why);
    }
  });

  it("splits a batch of 100,000 records", () => {
    const messages = Array.from({ length: 100_000 }, (_, i) => muxData(1 + (i % 9), `<x n='${i}'/>`));
    const parts = splitMuxBatch(muxBatch(messages));
    expect(parts).toEqual(messages);
  });
});
