// RFC 7395 framing details on the inbound WebSocket: binary messages are read as strict UTF-8, and
// the stanza size limit comes from the policy's maxStanzaBytes knob when it is set.
import { SELF } from "cloudflare:test";
import { admin } from "./admin-helpers.js";
import { describe, expect, it } from "vitest";

async function openSocket() {
  const res = await SELF.fetch("https://edge.test/xmpp-s2s", { headers: { upgrade: "websocket", "sec-websocket-protocol": "xmpp" } });
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  ws.accept();
  const frames: string[] = [];
  let wake: () => void = () => {};
  ws.addEventListener("message", (e) => {
    frames.push(typeof e.data === "string" ? e.data : new TextDecoder().decode(e.data as ArrayBuffer));
    wake();
  });
  const closed = new Promise<void>((r) => ws.addEventListener("close", () => r()));
  const until = async (pred: (f: string) => boolean) => {
    const deadline = Date.now() + 5000;
    while (!frames.some(pred) && Date.now() < deadline) await new Promise<void>((r) => ((wake = r), setTimeout(r, 50)));
    return frames.find(pred);
  };
  return { ws, frames, closed, until };
}

const OPEN = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing-server' xmlns:db='jabber:server:dialback' from='peer.test' to='edge.test' version='1.0'/>";

describe("binary WebSocket messages", () => {
  it("are read as UTF-8: a binary <open/> opens the stream", async () => {
    const s = await openSocket();
    s.ws.send(new TextEncoder().encode(OPEN));
    expect(await s.until((f) => f.startsWith("<open"))).toMatch(/to=["']peer.test["']/);
    s.ws.close(1000);
  });

  it("holding invalid UTF-8 end the stream with not-well-formed, not U+FFFD", async () => {
    const s = await openSocket();
    s.ws.send(OPEN);
    await s.until((f) => f.startsWith("<open"));
    const head = new TextEncoder().encode("<message from='a@peer.test' to='b@edge.test'><body>");
    const tail = new TextEncoder().encode("</body></message>");
    // 0xC3 0x28: a two-byte lead followed by a non-continuation byte (invalid per RFC 3629).
    s.ws.send(new Uint8Array([...head, 0xc3, 0x28, ...tail]));
    const err = await s.until((f) => /<(stream:)?error[ >]/.test(f));
    expect(err).toContain("not-well-formed");
    await s.closed;
  });
});

describe("the policy's maxStanzaBytes knob", () => {
  it("limits stanzas on new streams: a larger one ends the stream with policy-violation (RFC 6120 §13.12)", async () => {
    expect((await admin("/policy", { method: "PATCH", json: { knobs: { maxStanzaBytes: 1024 } } })).status).toBe(200);
    try {
      const s = await openSocket();
      s.ws.send(OPEN);
      await s.until((f) => f.startsWith("<open"));
      s.ws.send(`<message from='a@peer.test' to='b@edge.test'><body>${"x".repeat(2000)}</body></message>`);
      const err = await s.until((f) => /<(stream:)?error[ >]/.test(f));
      expect(err).toContain("policy-violation");
      await s.closed;
    } finally {
      await admin("/policy", { method: "PATCH", json: { knobs: { maxStanzaBytes: null } } });
    }
  });
});
