// Issue 11.6: an inbound stream reads the policy once, when it starts, and the ControlPlane pushes
// every later change to it before answering the change; no ControlPlane round trip per db:result
// (it was one policy read per claimed domain: 5-170 ms each under load, queued behind every
// session's reports to the singleton). Issue 5 still holds: a change applies to new pairs at once.
import { runInDurableObject, SELF } from "cloudflare:test";
import { afterEach, describe, expect, inject, it } from "vitest";
import { harness } from "../harness/bridge.js";
import { admin, controlPlane } from "./admin-helpers.js";
import { warmedLink } from "./helpers.js";

async function openSocket() {
  const res = await SELF.fetch("https://edge.test/xmpp-s2s", { headers: { upgrade: "websocket", "sec-websocket-protocol": "xmpp" } });
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  ws.accept();
  const frames: string[] = [];
  ws.addEventListener("message", (e) => {
    frames.push(typeof e.data === "string" ? e.data : new TextDecoder().decode(e.data as ArrayBuffer));
  });
  const closed = new Promise<void>((r) => ws.addEventListener("close", () => r()));
  const until = async (pred: (f: string) => boolean, ms = 5000) => {
    const deadline = Date.now() + ms;
    while (!frames.some(pred) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return frames.find(pred);
  };
  return { ws, frames, closed, until };
}

const OPEN = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing-server' xmlns:db='jabber:server:dialback' from='peer.test' to='edge.test' version='1.0'/>";
const claim = (from: string) => `<db:result xmlns:db='jabber:server:dialback' from='${from}' to='edge.test'>0123456789abcdef</db:result>`;
const answerFor = (from: string) => (f: string) => /<db:result/.test(f) && (f.includes(`'${from}'`) || f.includes(`"${from}"`));

afterEach(async () => {
  await admin("/policy/domains/%2A.pushed.test", { method: "DELETE" });
});

describe("the policy in an inbound stream", () => {
  it("a change made after the stream started applies to its next db:result, with no policy read per db:result", async () => {
    const s = await openSocket();
    s.ws.send(OPEN);
    expect(await s.until((f) => f.includes("features"))).toBeDefined();
    // The header warmed the verification link to peer.test's authority (one policy read, for the link).
    await warmedLink();
    const before = await controlPlane().policyReads();

    // The stream already holds the policy; this change reaches it by push, before the PUT is answered.
    const put = await admin("/policy/domains/%2A.pushed.test", { method: "PUT", json: { action: "deny" } });
    expect(put.status).toBeLessThan(300);
    const domains = Array.from({ length: 5 }, (_, i) => `d${i}.pushed.test`);
    for (const d of domains) s.ws.send(claim(d));
    for (const d of domains) {
      const answer = await s.until(answerFor(d));
      expect(answer, `answer for ${d}`).toMatch(/type=["']error["']/);
      expect(answer).toContain("forbidden");
    }
    // Five new pairs judged, zero policy reads: the stream used the pushed policy.
    expect((await controlPlane().policyReads()) - before).toBe(0);
    s.ws.close(1000);
    await s.closed;
  });

  it("a rule deleted after the stream started no longer refuses its next db:result", async () => {
    await admin("/policy/domains/%2A.pushed.test", { method: "PUT", json: { action: "deny" } });
    const s = await openSocket();
    s.ws.send(OPEN);
    await s.until((f) => f.includes("features"));
    s.ws.send(claim("early.pushed.test"));
    expect(await s.until(answerFor("early.pushed.test"))).toContain("forbidden");
    expect((await admin("/policy/domains/%2A.pushed.test", { method: "DELETE" })).status).toBeLessThan(300);
    // Now the pair goes to verification: its SRV record names a port nothing listens on, so it fails
    // there, with another condition than forbidden.
    await harness("POST", "/dns", { "_xmpp-server._tcp.late.pushed.test": [`0 0 ${inject("harnessPorts").closed} 127.0.0.1.`] });
    s.ws.send(claim("late.pushed.test"));
    const answer = await s.until(answerFor("late.pushed.test"), 20_000);
    expect(answer).toBeDefined();
    expect(answer).not.toContain("forbidden");
    s.ws.close(1000);
    await s.closed;
  });

  it("the WebSocket upgrade does not wait for the ControlPlane; the stream header is answered once the policy is in", async () => {
    const HOLD_MS = 1500;
    // Hold the ControlPlane (busy with every session's reports under load; here: blocked) while a
    // stream opens. A flag, not a promise: see session-delivery-queue.test.ts.
    let inForce = false;
    const held = runInDurableObject(controlPlane(), (_i, state) => {
      void state.blockConcurrencyWhile(() => new Promise((r) => setTimeout(r, HOLD_MS)));
      inForce = true;
    });
    while (!inForce) await new Promise((r) => setTimeout(r, 5));
    const t0 = Date.now();
    const s = await openSocket();
    // The 101 came without the policy read (it used to wait for it: HOLD_MS).
    expect(Date.now() - t0).toBeLessThan(HOLD_MS / 2);
    s.ws.send(OPEN);
    // The header waits for the policy, then is answered as usual.
    expect(await s.until((f) => f.includes("features"), 10_000)).toBeDefined();
    await held;
    s.ws.close(1000);
    await s.closed;
  });
});
