// Issue 11: a multi-vhost server's headers arrive together, one per domain, before the first
// verification link is up; the Durable Object holding those streams now asks the link's DO once per
// address for all of them (durable-objects/lib/verify-path.ts WarmFlights) instead of once per header.
import { describe, expect, it } from "vitest";
import { WarmFlights } from "../../durable-objects/lib/verify-path.js";

describe("WarmFlights", () => {
  it("warm-ups for one address while one is in flight share its call; another address gets its own", async () => {
    const flights = new WarmFlights();
    const started: string[] = [];
    let finish!: () => void;
    const call = (key: string) => () => {
      started.push(key);
      return new Promise<void>((r) => (finish = r));
    };
    const a = [flights.run("tcp:a:5269", call("a1")), flights.run("tcp:a:5269", call("a2")), flights.run("tcp:a:5269", call("a3"))];
    const b = flights.run("tcp:b:5269", call("b1"));
    expect(started).toEqual(["a1", "b1"]);
    finish(); // b's
    await b;
    expect(started).toEqual(["a1", "b1"]);
  });

  it("once a warm-up settled, the next one for that address calls again; a failure reaches every sharer", async () => {
    const flights = new WarmFlights();
    let calls = 0;
    const failing = () => {
      calls++;
      return Promise.reject(new Error("link DO unreachable"));
    };
    const shared = [flights.run("k", failing), flights.run("k", failing)];
    for (const p of shared) await expect(p).rejects.toThrow("unreachable");
    expect(calls).toBe(1);
    await flights.run("k", async () => void calls++);
    expect(calls).toBe(2);
  });
});
