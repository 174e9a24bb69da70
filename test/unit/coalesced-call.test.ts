// Issue 11: calls to another Durable Object cost the runtime ~1 ms each whatever they carry, so the
// budget admissions and releases of a DO's many streams go in batches (durable-objects/lib/
// coalesced-call.ts): an idle caller's call goes at once and alone; calls made while one is in flight
// go together in the next; each caller gets its own answer, and a failed batch fails only its callers.
import { describe, expect, it } from "vitest";
import { CoalescedCall } from "../../durable-objects/lib/coalesced-call.js";

/** A remote end whose answers the test releases: records each call's items. */
function remote() {
  const calls: number[][] = [];
  const pending: Array<{ resolve: (v: string[]) => void; reject: (e: Error) => void; items: number[] }> = [];
  const send = (items: number[]) => {
    calls.push(items);
    return new Promise<string[]>((resolve, reject) => pending.push({ resolve, reject, items }));
  };
  const answer = () => {
    const p = pending.shift()!;
    p.resolve(p.items.map((i) => `a${i}`));
  };
  return { calls, pending, send, answer };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe("CoalescedCall", () => {
  it("sends an idle caller's call at once, alone", async () => {
    const r = remote();
    const c = new CoalescedCall(r.send);
    const a = c.call(1);
    await tick();
    expect(r.calls).toEqual([[1]]);
    r.answer();
    expect(await a).toBe("a1");
  });

  it("sends the calls made while one is in flight as one call, each caller getting its own answer", async () => {
    const r = remote();
    const c = new CoalescedCall(r.send);
    const first = c.call(1);
    await tick();
    const rest = [2, 3, 4].map((i) => c.call(i));
    await tick();
    expect(r.calls).toEqual([[1]]);
    r.answer();
    expect(await first).toBe("a1");
    await tick();
    expect(r.calls).toEqual([[1], [2, 3, 4]]);
    r.answer();
    expect(await Promise.all(rest)).toEqual(["a2", "a3", "a4"]);
  });

  it("never puts more than maxBatch items in one call", async () => {
    const r = remote();
    const c = new CoalescedCall(r.send, 2);
    const all = [1, 2, 3, 4, 5].map((i) => c.call(i));
    for (let i = 0; i < 3; i++) {
      await tick();
      r.answer();
    }
    expect(await Promise.all(all)).toEqual(["a1", "a2", "a3", "a4", "a5"]);
    expect(r.calls).toEqual([[1], [2, 3], [4, 5]]);
  });

  it("a failed call fails its own callers only; the next batch still goes", async () => {
    const r = remote();
    const c = new CoalescedCall(r.send);
    const first = c.call(1);
    await tick();
    const second = c.call(2);
    r.pending.shift()!.reject(new Error("DO reset"));
    await expect(first).rejects.toThrow("DO reset");
    await tick();
    r.answer();
    expect(await second).toBe("a2");
  });

  it("with several batches allowed in flight, a slow batch holds only its own callers", async () => {
    const r = remote();
    const c = new CoalescedCall(r.send, 256, 2);
    const slow = c.call(1);
    const quick = c.call(2);
    await tick();
    expect(r.calls).toEqual([[1], [2]]);
    const later = [3, 4].map((i) => c.call(i));
    // The second batch answers while the first is still out: the waiting calls go, as one.
    r.pending.splice(1, 1)[0]!.resolve(["a2"]);
    expect(await quick).toBe("a2");
    await tick();
    expect(r.calls).toEqual([[1], [2], [3, 4]]);
    r.pending.splice(1, 1)[0]!.resolve(["a3", "a4"]);
    expect(await Promise.all(later)).toEqual(["a3", "a4"]);
    r.answer();
    expect(await slow).toBe("a1");
  });

  it("rejects when the answer does not have one entry per item", async () => {
    const c = new CoalescedCall(async (items: number[]) => items.slice(1).map(String));
    await expect(Promise.all([c.call(1), c.call(2)])).rejects.toThrow("answered");
  });
});
