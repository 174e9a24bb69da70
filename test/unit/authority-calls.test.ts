// Issue 11: a multi-vhost server's headers and claims arrive together, one per domain; the Durable
// Object holding those streams asks the authority link's DO once per address for the warm-ups in
// flight, and sends the claims for one address in batches (durable-objects/lib/verify-path.ts
// AuthorityCalls) instead of one call each: a call to another DO costs ~2 ms of workerd CPU.
import { describe, expect, it } from "vitest";
import type { Env } from "../../durable-objects/env.js";
import type { VerifyRequest } from "../../durable-objects/lib/verify-path.js";
import type { Domain } from "../../src/types.js";
import type { Target } from "../../src/resolve/resolver.js";
import { AuthorityCalls } from "../../durable-objects/lib/verify-path.js";

const target: Target = { host: "192.0.2.1", port: 5269, directTls: false, source: "srv" } as Target;
const req = (to: string): VerifyRequest => ({ from: "edge.test" as Domain, to: to as Domain, id: "s1", key: "k" });
const tick = () => new Promise((r) => setTimeout(r, 0));

/** An AUTHORITY_LINK namespace whose verifyMany calls the test answers. */
function links() {
  const calls: Array<{ address: string; to: string[]; answer: () => void }> = [];
  const env = {
    AUTHORITY_LINK: {
      idFromName: (name: string) => name,
      get: (address: string) => ({
        verifyMany: (items: { req: VerifyRequest }[]) =>
          new Promise((resolve) => calls.push({ address, to: items.map((i) => i.req.to), answer: () => resolve(items.map(() => ({ type: "valid" }))) })),
      }),
    },
  } as unknown as Env;
  return { env, calls };
}

describe("AuthorityCalls", () => {
  it("sends the claims for one address that arrive while its batches are in flight as one call; another address goes at once", async () => {
    const { env, calls } = links();
    const ac = new AuthorityCalls(env);
    // Up to four batches in flight per address: the first four claims go at once, alone.
    const first = ["v1", "v2", "v3", "v4"].map((v) => ac.verify("tcp:a:5269", req(`${v}.a.test`), [target]));
    await tick();
    const rest = ["v5.a.test", "v6.a.test", "v7.a.test"].map((to) => ac.verify("tcp:a:5269", req(to), [target]));
    const other = ac.verify("tcp:b:5269", req("v1.b.test"), [target]);
    await tick();
    expect(calls.map((c) => [c.address, c.to])).toEqual([
      ["tcp:a:5269", ["v1.a.test"]], ["tcp:a:5269", ["v2.a.test"]], ["tcp:a:5269", ["v3.a.test"]], ["tcp:a:5269", ["v4.a.test"]],
      ["tcp:b:5269", ["v1.b.test"]],
    ]);
    calls[4]!.answer();
    expect(await other).toEqual({ type: "valid" });
    // One of a's batches answered: the three waiting claims go as one call.
    calls[0]!.answer();
    expect(await first[0]).toEqual({ type: "valid" });
    await tick();
    expect(calls[5]).toMatchObject({ address: "tcp:a:5269", to: ["v5.a.test", "v6.a.test", "v7.a.test"] });
    calls[5]!.answer();
    expect(await Promise.all(rest)).toEqual([{ type: "valid" }, { type: "valid" }, { type: "valid" }]);
    for (const c of calls.slice(1, 4)) c.answer();
    expect(await Promise.all(first)).toHaveLength(4);
  });

  it("warm-ups for one address while one is in flight share its call; once settled, the next calls again", async () => {
    const ac = new AuthorityCalls(links().env);
    let started = 0;
    let finish!: () => void;
    const start = () => {
      started++;
      return new Promise<void>((r) => (finish = r));
    };
    const shared = [ac.warm("tcp:a:5269", start), ac.warm("tcp:a:5269", start), ac.warm("tcp:a:5269", start)];
    expect(started).toBe(1);
    finish();
    await Promise.all(shared);
    const failing = () => {
      started++;
      return Promise.reject(new Error("link DO unreachable"));
    };
    const failed = [ac.warm("tcp:a:5269", failing), ac.warm("tcp:a:5269", failing)];
    for (const p of failed) await expect(p).rejects.toThrow("unreachable");
    expect(started).toBe(2);
  });
});
