// Structured logs end to end (issue 13): a real stream from the harness peer leaves one JSON line
// per operator event: opened, the dialback verdict with its latency, closed with reason and condition.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { harness } from "../harness/bridge.js";
import { verifiedSession } from "./helpers.js";

let out: string[] = [];

beforeEach(async () => {
  await harness("POST", "/reset");
  out = [];
  for (const m of ["log", "warn", "error"] as const) vi.spyOn(console, m).mockImplementation((...a: unknown[]) => void out.push(a.map(String).join(" ")));
});
afterEach(() => vi.restoreAllMocks());

/** The structured lines written so far for `session`. */
const events = (session: string) =>
  out.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.session === session);

async function until<T>(fn: () => T | undefined, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`not logged within ${ms} ms; lines: ${out.join("\n")}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("structured logs of an inbound stream", () => {
  it("stream.opened, dialback.verdict valid with latency, stream.closed with reason", async () => {
    const { link, stub } = await verifiedSession();
    const id = (await stub.describe())!.id as string;
    const opened = await until(() => events(id).find((l) => l.event === "stream.opened"));
    expect(opened).toMatchObject({ level: "info", direction: "inbound", transport: "websocket" });
    const verdict = await until(() => events(id).find((l) => l.event === "dialback.verdict"));
    expect(verdict).toMatchObject({ level: "info", verdict: "valid", local: "edge.test", remote: "peer.test", direction: "inbound" });
    expect(verdict.latencyMs).toEqual(expect.any(Number));
    link.ws.send("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing-server'/>");
    const closed = await until(() => events(id).find((l) => l.event === "stream.closed"));
    expect(closed).toMatchObject({ by: "peer", reason: "the peer closed the stream" });
    // Every line the edge wrote for this stream was one JSON object with a timestamp.
    for (const l of events(id)) expect(l.ts).toMatch(/^\d{4}-\d\d-\d\dT/);
  });
});
