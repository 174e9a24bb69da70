// The RemoteDomain half of the bidi send path (durable-objects/lib/bidi-route.ts, issue 10.3): routes
// are kept per (session, local domain), newest first, at most MAX_BIDI_ROUTES_PER_DOMAIN, and a
// stanza is offered to ONE route, the newest for its local domain, never to every route in turn.
import { describe, expect, it } from "vitest";
import { BidiRoutes, type BidiOutcome } from "../../durable-objects/lib/bidi-route.js";
import type { SessionStore } from "../../durable-objects/lib/store.js";
import type { Env } from "../../durable-objects/env.js";

function memoryStore(): SessionStore {
  const kv = new Map<string, string>();
  return {
    get: (k: string, json = false) => (kv.has(k) ? (json ? JSON.parse(kv.get(k)!) : kv.get(k)) : undefined),
    put: (k: string, v: string) => void kv.set(k, v),
    putJson: (k: string, v: unknown) => void kv.set(k, JSON.stringify(v)),
    delete: (k: string) => void kv.delete(k),
  } as unknown as SessionStore;
}

/** An Env whose StreamSession stubs answer trySendBidi from `answers`, recording each call. */
function sessions(answers: Record<string, BidiOutcome>) {
  const calls: string[] = [];
  const env = {
    STREAM_SESSION: {
      idFromName: (name: string) => name,
      get: (name: string) => ({
        trySendBidi: async () => {
          calls.push(name);
          return answers[name] ?? "gone";
        },
      }),
    },
  } as unknown as Env;
  return { env, calls };
}

describe("BidiRoutes (issue 10.3)", () => {
  it("offers a stanza to the newest route for its local domain only", async () => {
    const { env, calls } = sessions({ s1: "sent", s2: "sent", s3: "gone" });
    const routes = new BidiRoutes(env, memoryStore());
    for (const s of ["s1", "s2", "s3"]) routes.add({ session: s, local: "edge.test" }, 8);
    routes.add({ session: "s4", local: "chat.edge.test" }, 8);
    // s3 is the newest for edge.test; it is gone: one call, dropped, and the stanza is not sent
    // (it takes the outbound path) rather than being offered to s2 and s1 in turn.
    expect(await routes.trySend("<message/>", "edge.test")).toBe(false);
    expect(calls).toEqual(["s3"]);
    expect(routes.list().map((r) => r.session)).toEqual(["s4", "s2", "s1"]);
    expect(await routes.trySend("<message/>", "edge.test")).toBe(true);
    expect(calls).toEqual(["s3", "s2"]);
    // No route for a local domain nobody verified the inverse of: no call at all.
    expect(await routes.trySend("<message/>", "other.edge.test")).toBe(false);
    expect(calls).toHaveLength(2);
  });

  it("drops the route for that pair when the session refuses, and the whole session when gone", async () => {
    const { env } = sessions({ s1: "refused" });
    const routes = new BidiRoutes(env, memoryStore());
    routes.add({ session: "s1", local: "edge.test" }, 8);
    routes.add({ session: "s1", local: "chat.edge.test" }, 8);
    expect(await routes.trySend("<message/>", "edge.test")).toBe(false);
    expect(routes.list()).toEqual([{ session: "s1", local: "chat.edge.test" }]);
    routes.add({ session: "s2", local: "edge.test" }, 8);
    routes.remove("s1");
    expect(routes.list()).toEqual([{ session: "s2", local: "edge.test" }]);
  });

  it("keeps at most the cap, the newest, and a re-announced route moves to the front", () => {
    const routes = new BidiRoutes(sessions({}).env, memoryStore());
    for (let i = 1; i <= 5; i++) routes.add({ session: `s${i}`, local: "edge.test" }, 3);
    expect(routes.list().map((r) => r.session)).toEqual(["s5", "s4", "s3"]);
    routes.add({ session: "s3", local: "edge.test" }, 3);
    expect(routes.list().map((r) => r.session)).toEqual(["s3", "s5", "s4"]);
  });

  it("ignores routes stored by the old format (bare session ids, announced while pending)", () => {
    const store = memoryStore();
    store.putJson("bidi-routes", ["old-1", "old-2"]);
    expect(new BidiRoutes(sessions({}).env, store).list()).toEqual([]);
  });
});
