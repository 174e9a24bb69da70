// Idle limit on inbound WebSocket streams (RFC 6120 §4.9.3.4): with no traffic from the peer for the
// configured time (default 600 s), the stream ends with a connection-timeout stream error.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_IDLE_SECONDS } from "../../durable-objects/lib/idle.js";
import type { StreamSession } from "../../durable-objects/stream-session.js";
import { harness } from "../harness/bridge.js";
import { verifiedSession } from "./helpers.js";

beforeEach(async () => {
  await harness("POST", "/reset");
});

describe("idle inbound streams", () => {
  it("an alarm is armed for the idle check; firing it before the limit keeps the stream", async () => {
    const { link, stub } = await verifiedSession();
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await stub.describe()).not.toBeNull();
    // Re-armed for the rest of the limit.
    const alarm = await runInDurableObject(stub, (_i, state) => state.storage.getAlarm());
    expect(alarm).toBeGreaterThan(Date.now() + (DEFAULT_IDLE_SECONDS - 60) * 1000);
    link.ws.close(1000);
  });

  it(`after ${DEFAULT_IDLE_SECONDS} s without traffic the stream ends with connection-timeout`, async () => {
    const { link, stub } = await verifiedSession();
    await runInDurableObject(stub, (s: StreamSession) => s.alarmAt(Date.now() + DEFAULT_IDLE_SECONDS * 1000 - 5000));
    expect(await stub.describe()).not.toBeNull();
    await runInDurableObject(stub, (s: StreamSession) => s.alarmAt(Date.now() + DEFAULT_IDLE_SECONDS * 1000 + 1000));
    await link.closed;
    expect(link.fromEdge.join("")).toMatch(/<stream:error[^>]*><connection-timeout xmlns=['"]urn:ietf:params:xml:ns:xmpp-streams['"]\/>/);
    expect(await stub.describe()).toBeNull();
  });

  it("traffic from the peer moves the limit", async () => {
    const { job, link, stub } = await verifiedSession();
    const sent = Date.now();
    await new Promise((r) => setTimeout(r, 1100));
    await harness("POST", `/jobs/${job.id}/send`, { xml: "<presence from='a@peer.test' to='b@edge.test'/>" });
    const deadline = Date.now() + 3000;
    while ((await stub.describe())!.stanzasIn < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    // Past the limit counted from the session's start, but not from the presence.
    await runInDurableObject(stub, (s: StreamSession) => s.alarmAt(sent + DEFAULT_IDLE_SECONDS * 1000 + 500));
    expect(await stub.describe()).not.toBeNull();
    link.ws.close(1000);
  });
});
