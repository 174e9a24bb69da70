// Issue 11.4: the gateway's link to the edge coalesces. Every WebSocket message costs the edge a
// Durable Object event, so frames the peer sends while the previous batched message is still being
// written go together, as one message, once that write completes; order and frame boundaries are
// kept, and nothing is held back on close.
import { afterEach, describe, expect, it } from "vitest";
import { EdgeLink, type GatewayConnectionInfo } from "../../gateway/edge-link.js";
import { FrameReader } from "../../src/xml/framing.js";
import { FakeEdge, FRAMING, TOKEN, until, type EdgeSession } from "./gateway-fixtures.js";

const info: GatewayConnectionInfo = { peer: "127.0.0.1:1", tls: null, certIdentities: [], port: 5269, framing: "batched" };
const stanza = (i: number) => `<message xmlns='jabber:server' from='u@peer.test' to='app@edge.test' id='m${i}'><body>${i}</body></message>`;

let edge: FakeEdge | undefined;
afterEach(async () => {
  await edge?.stop();
  edge = undefined;
});

async function openLink(batched: boolean): Promise<{ link: EdgeLink; s: EdgeSession }> {
  edge = await new FakeEdge().start();
  edge.batched = batched;
  const link = new EdgeLink(edge.url, TOKEN, info, 1 << 20, { message: () => {}, closed: () => {}, drained: () => {} });
  const s = await edge.session();
  await until(() => link.open, "the link to open");
  return { link, s };
}

/** What the edge's batched reader makes of the messages, in order. */
function ids(frames: string[]): string[] {
  const reader = new FrameReader({ maxStanzaBytes: 100_000, maxDepth: 10 }, { batched: true });
  const events = frames.flatMap((f) => reader.read(f));
  expect(events.filter((e) => e.type === "error")).toEqual([]);
  return events.flatMap((e) => (e.type === "element" ? [String(e.element.attrs.id)] : []));
}

describe("gateway: coalescing toward the edge while a message is in flight", () => {
  it("frames sent while the first message is being written go as one message after it, in order, on frame boundaries", async () => {
    const { link, s } = await openLink(true);
    link.sendMany([`<open xmlns='${FRAMING}' to='edge.test' version='1.0'/>`, stanza(0)]);
    // The peer's next reads arrive before that write completed (same turn): they wait for it.
    for (let i = 1; i <= 20; i++) link.sendMany([stanza(i)]);
    await until(() => s.frames.join("").includes("id='m20'"), "the last stanza at the edge");
    expect(s.frames).toHaveLength(2);
    expect(link.messagesSent).toBe(2);
    expect(ids(s.frames)).toEqual(Array.from({ length: 21 }, (_, i) => `m${i}`));
  });

  it("nothing held back is lost when the link closes right after", async () => {
    const { link, s } = await openLink(true);
    link.sendMany([`<open xmlns='${FRAMING}' to='edge.test' version='1.0'/>`, stanza(0)]);
    link.sendMany([stanza(1), stanza(2)]);
    link.sendMany([`<close xmlns='${FRAMING}'/>`]);
    link.close(1000);
    await until(() => s.closed, "the edge to see the close");
    expect(ids(s.frames)).toEqual(["m0", "m1", "m2"]);
    expect(s.frames.at(-1)).toMatch(/<close xmlns=/);
  });

  it("an edge that takes one frame per message gets one message per frame (RFC 7395 §3.3.3): nothing to coalesce", async () => {
    const { link, s } = await openLink(false);
    link.sendMany([`<open xmlns='${FRAMING}' to='edge.test' version='1.0'/>`]);
    for (let i = 0; i < 5; i++) link.sendMany([stanza(i)]);
    await until(() => s.frames.length === 6, "six messages");
    expect(s.frames.slice(1)).toEqual([0, 1, 2, 3, 4].map(stanza));
  });
});
