// Issue 10 item 3: unauthenticated direct WebSocket streams from one client address (CF-Connecting-IP;
// IPv6 per /64) are capped by MAX_UNAUTHENTICATED_STREAMS_PER_IP (default 256): the next upgrade is
// refused with HTTP 429 before any StreamSession exists, and a slot comes back when a stream ends.
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { peerAddressStub } from "../../durable-objects/lib/stubs.js";

const IP = "203.0.113.77";
const upgrade = (ip: string) =>
  SELF.fetch("https://edge.test/xmpp-s2s", { headers: { upgrade: "websocket", "sec-websocket-protocol": "xmpp", "cf-connecting-ip": ip } });

describe("MAX_UNAUTHENTICATED_STREAMS_PER_IP (issue 10 item 3)", () => {
  it("refuses the 257th unauthenticated stream from one address with 429, not others; a closed stream gives its slot back", async () => {
    const slots = peerAddressStub(env, IP);
    // 255 streams held (as slots), then one real stream: 256.
    for (let i = 0; i < 255; i += 51) await Promise.all(Array.from({ length: 51 }, (_, k) => slots.admit(`held-${i + k}`, 256)));
    const first = await upgrade(IP);
    expect(first.status).toBe(101);
    const ws = first.webSocket!;
    ws.accept();
    const closed = new Promise<void>((r) => ws.addEventListener("close", () => r()));
    expect(await slots.held()).toBe(256);

    const refused = await upgrade(IP);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("content-type")).toMatch(/problem\+json/);
    expect(await refused.text()).toContain("MAX_UNAUTHENTICATED_STREAMS_PER_IP");
    // Another address is not affected; an IPv6 peer counts per /64.
    const other = await upgrade("198.51.100.1");
    expect(other.status).toBe(101);
    other.webSocket!.accept();
    other.webSocket!.close(1000);

    // The stream ends: its slot is released by the session.
    ws.close(1000);
    await closed;
    for (let i = 0; i < 50 && (await slots.held()) > 255; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await slots.held()).toBe(255);
    const again = await upgrade(IP);
    expect(again.status).toBe(101);
    again.webSocket!.accept();
    again.webSocket!.close(1000);
    for (let i = 0; i < 255; i++) await slots.release(`held-${i}`);
  });
});
