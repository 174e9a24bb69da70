// Issue 10 item 3, in the StreamSession: a stream whose every claim was refused and that holds no
// pair is closed by its alarm timeouts.unpaired (10 s) later with policy-violation, not kept open.
import { SELF } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { admin } from "./admin-helpers.js";

const OPEN = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing-server' xmlns:db='jabber:server:dialback' from='peer.test' to='edge.test' version='1.0'/>";
const claim = (from: string) => `<db:result xmlns:db='jabber:server:dialback' from='${from}' to='edge.test'>0123456789abcdef</db:result>`;

afterEach(async () => {
  await admin("/policy/domains/%2A.unpaired.test", { method: "DELETE" });
});

describe("a WebSocket stream with only refused claims (issue 10 item 3)", () => {
  it("is closed by its alarm with policy-violation after its claim was refused", async () => {
    await admin("/policy/domains/%2A.unpaired.test", { method: "PUT", json: { action: "deny" } });
    const res = await SELF.fetch("https://edge.test/xmpp-s2s", { headers: { upgrade: "websocket", "sec-websocket-protocol": "xmpp" } });
    expect(res.status).toBe(101);
    const ws = res.webSocket!;
    ws.accept();
    const frames: string[] = [];
    ws.addEventListener("message", (e) => void frames.push(typeof e.data === "string" ? e.data : new TextDecoder().decode(e.data as ArrayBuffer)));
    const closed = new Promise<void>((r) => ws.addEventListener("close", () => r()));
    const until = async (pred: (f: string) => boolean, ms: number) => {
      const end = Date.now() + ms;
      while (!frames.some(pred) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      return frames.find(pred);
    };
    ws.send(OPEN);
    expect(await until((f) => f.includes("features"), 5000)).toBeDefined();
    ws.send(claim("a.unpaired.test"));
    expect(await until((f) => /<db:result/.test(f), 5000)).toContain("forbidden");
    const error = await until((f) => f.includes("policy-violation"), 20_000);
    expect(error).toMatch(/<policy-violation xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']/);
    expect(error).toContain("no pair left");
    await closed;
  });
});
