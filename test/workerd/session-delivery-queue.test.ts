// The StreamSession's persisted delivery queue (durable-objects/lib/delivery-queue.ts): a stanza the
// session accepted survives an eviction before the application took it, rows go once delivered, and
// a final failure bounces the stanza to its sender with service-unavailable.
import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject, SELF } from "cloudflare:test";
import { parse, type Element } from "ltx";
import { beforeEach, describe, expect, it } from "vitest";
import { deliverBatchToApp } from "../../durable-objects/lib/deliver.js";
import { DeliveryQueue, MAX_ATTEMPTS, SAFETY_MS } from "../../durable-objects/lib/delivery-queue.js";
import { harness } from "../harness/bridge.js";
import { APP, verifiedSession } from "./helpers.js";

const localApp = () => env.LOCAL_APP.get(env.LOCAL_APP.idFromName("local"));
const APP_BLOCK_MS = 3000;

beforeEach(async () => {
  await harness("POST", "/reset");
});

type Stub = ReturnType<typeof env.STREAM_SESSION.get>;
const queued = (stub: Stub) =>
  runInDurableObject(stub, (_i, state) => state.storage.sql.exec<{ xml: string }>("SELECT xml FROM app_queue").toArray().map((r) => r.xml));

async function inboxCount(id: string): Promise<number> {
  const res = await SELF.fetch("https://edge.test/api/v1/inbox?limit=200", { headers: APP });
  return (await res.json<{ items: { xml: string }[] }>()).items.filter((i) => i.xml.includes(`id="${id}"`)).length;
}

async function until(pred: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("persisted delivery queue", () => {
  /**
   * Holds the local app (blockConcurrencyWhile for APP_BLOCK_MS), then sends `ids` to the session, each
   * its own WebSocket message. Issue 13: runInDurableObject() only returns once the block is over, so
   * a test that awaited it before sending (as this one did) never had the app held; it raced the
   * delivery with its polls, and lost when the delivery was quick. Here the block is known to be in
   * force (the callback said so) before the first stanza is sent. Resolves with the hold's end.
   */
  async function sendWhileAppHeld(jobId: string, ids: string[]): Promise<{ held: Promise<void> }> {
    // A flag, not a promise: a continuation of a promise resolved inside the DO would run in the DO's
    // I/O context, where the test may not fetch.
    let inForce = false;
    const held = runInDurableObject(localApp(), (_i, state) => {
      void state.blockConcurrencyWhile(() => new Promise((r) => setTimeout(r, APP_BLOCK_MS)));
      inForce = true;
    });
    while (!inForce) await new Promise((r) => setTimeout(r, 5));
    for (const id of ids) await harness("POST", `/jobs/${jobId}/send`, { xml: `<message from='a@peer.test' to='b@edge.test' id='${id}'><body>kept</body></message>` });
    return { held };
  }

  it("a stanza accepted while the application hangs, then the session evicted, is delivered after the restart", async () => {
    const { job, link, stub } = await verifiedSession();
    const id = "q-evict";
    const { held } = await sendWhileAppHeld(job.id, [id]);
    await until(async () => (await queued(stub)).some((x) => x.includes(id)), APP_BLOCK_MS - 500);
    // The row is there before the application took it, and an alarm will come back for it.
    const alarm = await runInDurableObject(stub, (_i, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();
    expect(alarm!).toBeLessThanOrEqual(Date.now() + SAFETY_MS);

    await evictDurableObject(stub);
    await held;
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    // The evicted instance's call may have reached the local app too; it stores the batch once.
    await until(async () => (await inboxCount(id)) >= 1);
    await new Promise((r) => setTimeout(r, 200));
    expect(await inboxCount(id)).toBe(1);
    await until(async () => (await queued(stub)).length === 0);
    link.ws.close(1000);
  });

  it("stanzas of several WebSocket messages committed while the application hangs all survive an eviction, each delivered once", async () => {
    const { job, link, stub } = await verifiedSession();
    const ids = Array.from({ length: 6 }, (_, i) => `q-evict-many-${i}`);
    const { held } = await sendWhileAppHeld(job.id, ids);
    // Committed: the first with its own message, the rest at the end of the commit window.
    await until(async () => {
      const rows = (await queued(stub)).join("");
      return ids.every((id) => rows.includes(id));
    }, APP_BLOCK_MS - 500);
    await evictDurableObject(stub);
    await held;
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    await until(async () => (await inboxCount(ids.at(-1)!)) >= 1);
    await new Promise((r) => setTimeout(r, 200));
    for (const id of ids) expect(await inboxCount(id)).toBe(1);
    await until(async () => (await queued(stub)).length === 0);
    link.ws.close(1000);
  });

  it("rows are removed once the application took the stanza", async () => {
    const { job, link, stub } = await verifiedSession();
    for (let i = 0; i < 5; i++) {
      await harness("POST", `/jobs/${job.id}/send`, { xml: `<message from='a@peer.test' to='b@edge.test' id='q-ok${i}'><body>${i}</body></message>` });
    }
    await until(async () => (await inboxCount("q-ok4")) === 1);
    await until(async () => (await queued(stub)).length === 0);
    for (let i = 0; i < 5; i++) expect(await inboxCount(`q-ok${i}`)).toBe(1);
    link.ws.close(1000);
  });

  it("a stanza on a stream closed right after it is still delivered", async () => {
    const { job, link, stub } = await verifiedSession();
    await harness("POST", `/jobs/${job.id}/send`, { xml: "<message from='a@peer.test' to='b@edge.test' id='q-close'><body>last words</body></message>" });
    link.ws.close(1000);
    await until(async () => (await inboxCount("q-close")) === 1);
    await until(async () => (await queued(stub)).length === 0);
  });
});

describe("group commit (issue 11.4): one commit and one delivery call per window", () => {
  const msg = (id: string) => parse(`<message from='a@peer.test' to='b@edge.test' id='${id}'><body>x</body></message>`) as Element;

  it("after a quiet period the first stanza is committed at once; what follows inside the window is committed as one row at its end and delivered in one call", async () => {
    const stub = env.STREAM_SESSION.get(env.STREAM_SESSION.idFromName("queue-window"));
    const out = await runInDurableObject(stub, async (_i, state) => {
      const calls: string[][] = [];
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const q = new DeliveryQueue(state.storage.sql, {
        deliver: async (stanzas) => {
          calls.push(stanzas.map((s) => String(/id="([^"]+)"/.exec(s.xml)?.[1])));
          await gate;
          return stanzas.map(() => []);
        },
        reply: () => {},
        rearm: () => {},
        now: () => Date.now(),
      }, 200);
      const rows = () => state.storage.sql.exec<{ xml: string }>("SELECT xml FROM app_queue ORDER BY seq").toArray().map((r) => r.xml);
      q.accept(msg("w0"));
      q.persist(); // the end of the first WebSocket message
      const afterFirst = rows().length;
      for (const id of ["w1", "w2", "w3"]) {
        q.accept(msg(id));
        q.persist(); // each its own WebSocket message, inside the window
      }
      const inWindow = rows().length;
      // The window's end commits the three together (the first delivery call is still held).
      const t = Date.now();
      while (rows().length < 2 && Date.now() - t < 5000) await new Promise((r) => setTimeout(r, 20));
      const committed = rows();
      release();
      while ((q.size() > 0 || calls.length < 2) && Date.now() - t < 5000) await new Promise((r) => setTimeout(r, 20));
      return { afterFirst, inWindow, committed, calls, left: q.size() };
    });
    expect(out.afterFirst).toBe(1);
    expect(out.inWindow).toBe(1);
    expect(out.committed).toHaveLength(2);
    expect((JSON.parse(out.committed[1]!) as unknown[]).length).toBe(3);
    expect(out.calls).toEqual([["w0"], ["w1", "w2", "w3"]]);
    expect(out.left).toBe(0);
  });

  it("rows delivered are deleted with the next commit, and a restarted queue does not deliver them again", async () => {
    const stub = env.STREAM_SESSION.get(env.STREAM_SESSION.idFromName("queue-window-delete"));
    const out = await runInDurableObject(stub, async (_i, state) => {
      const delivered: string[] = [];
      const hooks = {
        deliver: async (stanzas: { xml: string }[]) => {
          for (const s of stanzas) delivered.push(String(/id="([^"]+)"/.exec(s.xml)?.[1]));
          return stanzas.map(() => []);
        },
        reply: () => {},
        rearm: () => {},
        now: () => Date.now(),
      };
      const q = new DeliveryQueue(state.storage.sql, hooks, 0);
      q.accept(msg("d0"));
      await q.flush();
      q.accept(msg("d1"));
      await q.flush();
      const t = Date.now();
      const count = () => state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM app_queue").one().n;
      while (count() > 0 && Date.now() - t < 5000) await new Promise((r) => setTimeout(r, 20));
      const again = new DeliveryQueue(state.storage.sql, hooks, 0);
      await again.flush();
      return { delivered, left: count() };
    });
    expect(out.left).toBe(0);
    expect(out.delivered).toEqual(["d0", "d1"]);
  });
});

describe("the local app stores a batch delivered again only once", () => {
  const ping = (id: string) => ({ xml: `<iq type="get" id="${id}" from="a@peer.test/r" to="edge.test"><ping xmlns="urn:xmpp:ping"/></iq>`, name: "iq", type: "get", from: "a@peer.test/r", to: "edge.test" });
  const message = (id: string) => ({ xml: `<message from="a@peer.test" to="b@edge.test" id="${id}"><body>x</body></message>`, name: "message", from: "a@peer.test", to: "b@edge.test" });

  it("same caller, same queue rows: stored once, replies computed both times; a later row is stored; another caller is independent", async () => {
    const batch = [{ ...message("dd-1"), row: 7 }, { ...ping("dd-ping"), row: 7 }, { ...message("dd-2"), row: 8 }];
    const first = await localApp().deliverMany(batch, "caller-a");
    const again = await localApp().deliverMany(batch, "caller-a");
    expect(again).toEqual(first);
    expect(first[1]![0]).toContain('type="result"'); // the ping is answered both times
    expect(await inboxCount("dd-1")).toBe(1);
    expect(await inboxCount("dd-2")).toBe(1);
    // A retry that brings one more row: only the new row is stored.
    await localApp().deliverMany([...batch, { ...message("dd-3"), row: 9 }], "caller-a");
    expect(await inboxCount("dd-2")).toBe(1);
    expect(await inboxCount("dd-3")).toBe(1);
    // Another caller's row 7 is its own.
    await localApp().deliverMany([{ ...message("dd-1"), row: 7 }], "caller-b");
    expect(await inboxCount("dd-1")).toBe(2);
    // Without a caller (the single-stanza path) nothing is de-duplicated.
    await localApp().deliver(message("dd-4").xml);
    await localApp().deliver(message("dd-4").xml);
    expect(await inboxCount("dd-4")).toBe(2);
  });
});

describe("the queue's source name", () => {
  const noHooks = { deliver: async () => [], reply: () => {}, rearm: () => {}, now: () => Date.now() };
  it("is kept with the queue's storage (the same after a restart) and differs between DOs", async () => {
    const a = env.STREAM_SESSION.get(env.STREAM_SESSION.idFromName("queue-source-a"));
    const b = env.STREAM_SESSION.get(env.STREAM_SESSION.idFromName("queue-source-b"));
    const first = await runInDurableObject(a, (_i, state) => new DeliveryQueue(state.storage.sql, noHooks).source);
    await evictDurableObject(a);
    const again = await runInDurableObject(a, (_i, state) => new DeliveryQueue(state.storage.sql, noHooks).source);
    const other = await runInDurableObject(b, (_i, state) => new DeliveryQueue(state.storage.sql, noHooks).source);
    expect(again).toBe(first);
    expect(other).not.toBe(first);
    expect(first).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe("final failure", () => {
  const msg = (id: string) => parse(`<message from='a@peer.test' to='b@edge.test' id='${id}'><body>x</body></message>`) as Element;
  const appState = (reset: { rpcResult?: boolean }) => env.TEST_APP_FETCH.fetch("https://app.internal/state", { method: "POST", body: JSON.stringify(reset) });

  it("an application that refuses the stanza: the sender gets service-unavailable and the row goes", async () => {
    await appState({ rpcResult: false });
    const stub = env.STREAM_SESSION.get(env.STREAM_SESSION.idFromName("queue-refused"));
    const back = await runInDurableObject(stub, async (_i, state) => {
      const replies: string[] = [];
      const q = new DeliveryQueue(state.storage.sql, {
        deliver: (s) => deliverBatchToApp({ ...env, APP: env.TEST_APP_RPC } as never, s),
        reply: (s) => void replies.push(s.toString()),
        rearm: () => {},
        now: () => Date.now(),
      });
      q.accept(msg("q-refused"));
      await q.flush();
      return { replies, left: q.size() };
    });
    await appState({});
    expect(back.left).toBe(0);
    expect(back.replies).toHaveLength(1);
    const b = parse(back.replies[0]!) as Element;
    expect(b.attrs).toMatchObject({ type: "error", id: "q-refused", from: "b@edge.test", to: "a@peer.test" });
    expect(back.replies[0]).toContain("<service-unavailable");
  });

  it(`an unreachable application: kept for retry with an alarm, bounced with service-unavailable after ${MAX_ATTEMPTS} failed calls`, async () => {
    const stub = env.STREAM_SESSION.get(env.STREAM_SESSION.idFromName("queue-unreachable"));
    const out = await runInDurableObject(stub, async (_i, state) => {
      const replies: string[] = [];
      const dues: (number | undefined)[] = [];
      let calls = 0;
      const q = new DeliveryQueue(state.storage.sql, {
        deliver: async () => {
          calls++;
          throw new Error("app down");
        },
        reply: (s) => void replies.push(s.toString()),
        rearm: () => {},
        now: () => Date.now(),
      });
      q.accept(msg("q-down"));
      q.accept(parse("<presence from='a@peer.test' to='b@edge.test'/>") as Element);
      // accept() scheduled the first attempt; the rest are what the alarm would run.
      await new Promise((r) => setTimeout(r, 20));
      dues.push(q.due);
      for (let i = 1; i < MAX_ATTEMPTS - 1; i++) {
        await q.flush();
        dues.push(q.due);
      }
      const keptBeforeLast = q.size();
      await q.flush();
      return { replies, calls, dues, keptBeforeLast, left: q.size() };
    });
    expect(out.calls).toBe(MAX_ATTEMPTS);
    expect(out.keptBeforeLast).toBe(2);
    for (const d of out.dues) expect(d).toBeGreaterThan(Date.now() - 5000);
    expect(out.left).toBe(0);
    // RFC 6121 §4.3.2: presence is not bounced; the message is.
    expect(out.replies).toHaveLength(1);
    expect(out.replies[0]).toContain('id="q-down"');
    expect(out.replies[0]).toContain("<service-unavailable");
  });
});

describe("RemoteDomain's queue for the application", () => {
  const send = (xml: string) => SELF.fetch("https://edge.test/api/v1/stanzas", { method: "POST", headers: APP, body: xml });
  const rd = (domain: string) => env.REMOTE_DOMAIN.get(env.REMOTE_DOMAIN.idFromName(domain));
  const rdQueued = (domain: string) =>
    runInDurableObject(rd(domain), (_i, state) => state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM app_queue").one().n);

  it("a bounce for our application goes through it and leaves no row", async () => {
    expect((await send("<message from='app@edge.test' to='x@unreachable.test' id='q-rd-bounce'><body>x</body></message>")).status).toBe(202);
    await until(async () => (await inboxCount("q-rd-bounce")) === 1, 15_000);
    // The row is deleted once the local app's call has returned, which is after the inbox has the
    // stanza: wait for it rather than read it in the same instant.
    await until(async () => (await rdQueued("unreachable.test")) === 0);
  });

  it("what an evicted instance left in it is delivered when the DO starts again", async () => {
    const xml = "<message type='error' from='x@gone.test' to='app@edge.test' id='q-rd-left'><error type='cancel'><remote-server-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>";
    // As if the DO died right after accepting the bounce.
    await runInDurableObject(rd("gone.test"), (_i, state) => void state.storage.sql.exec("INSERT INTO app_queue (xml) VALUES (?)", xml));
    await evictDurableObject(rd("gone.test"));
    await rd("gone.test").describe(); // any call starts it again
    await until(async () => (await inboxCount("q-rd-left")) === 1);
    await until(async () => (await rdQueued("gone.test")) === 0);
  });
});
