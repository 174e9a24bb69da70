// Issue 10.5: no outbound call can hold delivery forever. A webhook, an APP binding (RPC or fetch),
// the local app or a DoH resolver that never answers costs one failed attempt after its deadline
// (DELIVERY_TIMEOUT_MS, DOH_TIMEOUT_MS); the queue retries, moves on, and delivers once the
// application answers again. Before, fetch had no deadline: 0 of 100 stanzas were ever delivered.
import { env, runInDurableObject } from "cloudflare:test";
import { parse, type Element } from "ltx";
import { beforeEach, describe, expect, inject, it } from "vitest";
import { deliverBatchToApp, deliverToApp } from "../../durable-objects/lib/deliver.js";
import { dohFetch } from "../../durable-objects/lib/deadline.js";
import { DeliveryQueue } from "../../durable-objects/lib/delivery-queue.js";
import { toAppStanza } from "../../src/delivery/app-stanza.js";
import { querySrv } from "../../src/resolve/doh.js";
import { harness } from "../harness/bridge.js";

const DEADLINE = "300";
const control = () => inject("harnessPorts").control;
const hookEnv = () => ({ ...env, DELIVERY_WEBHOOK_URL: `http://127.0.0.1:${control()}/hook`, DELIVERY_TIMEOUT_MS: DEADLINE });
type HookState = { received: { body: string }[] };
const received = async () => (await harness<HookState>("GET", "/hook-state")).received;
const msg = (id: string) => parse(`<message from='a@peer.test' to='b@edge.test' id='${id}'><body>x</body></message>`) as Element;
const appState = async (next?: { hang?: boolean }) =>
  (await env.TEST_APP_FETCH.fetch("https://app.internal/state", next ? { method: "POST", body: JSON.stringify(next) } : {})).json<{ received: unknown[] }>();

async function until(pred: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 25));
  }
}

beforeEach(async () => {
  await harness("POST", "/hook-state", { status: 204 });
  await appState({});
});

describe("a hung webhook", () => {
  it("costs one failed attempt per deadline: after its retries the stanza bounces with service-unavailable", async () => {
    await harness("POST", "/hook-state", { hang: true });
    const back = await deliverToApp(hookEnv(), toAppStanza(msg("dl-hung")));
    expect(await received()).toHaveLength(4);
    expect(back).toHaveLength(1);
    expect(back[0]!.toString()).toContain("<service-unavailable");
    expect(back[0]!.toString()).toContain(`no answer within ${DEADLINE} ms`);
  });

  it("does not stall the queue: once the webhook answers again, every queued stanza is delivered", async () => {
    const stub = env.STREAM_SESSION.get(env.STREAM_SESSION.idFromName("deadline-queue"));
    const out = await runInDurableObject(stub, async (_i, state) => {
      const replies: string[] = [];
      const q = new DeliveryQueue(state.storage.sql, {
        deliver: (s, source) => deliverBatchToApp(hookEnv() as never, s, source),
        reply: (s) => void replies.push(s.toString()),
        rearm: () => {},
        now: () => Date.now(),
      });
      await harness("POST", "/hook-state", { hang: true });
      for (const id of ["dl-q1", "dl-q2", "dl-q3"]) q.accept(msg(id));
      const drained = q.flush();
      // A second request for the first stanza means the first one missed its deadline and was
      // retried (without a deadline it waits forever and this times out).
      await until(async () => (await received()).filter((r) => r.body.includes('id="dl-q1"')).length >= 2);
      await harness("POST", "/hook-state", { status: 204 });
      await drained;
      return { replies, left: q.size() };
    });
    const bodies = (await received()).map((r) => r.body).join("\n");
    for (const id of ["dl-q1", "dl-q2", "dl-q3"]) expect(bodies).toContain(`id="${id}"`);
    expect(out).toEqual({ replies: [], left: 0 });
  });
});

describe("a hung APP service binding", () => {
  for (const [name, binding] of [["RPC deliver()", "TEST_APP_RPC"], ["fetch", "TEST_APP_FETCH"]] as const) {
    it(`${name}: each hung call fails at the deadline and the stanza bounces after its retries`, async () => {
      await appState({ hang: true });
      const back = await deliverToApp({ ...env, APP: env[binding], DELIVERY_TIMEOUT_MS: DEADLINE } as never, toAppStanza(msg(`dl-app-${binding}`)));
      expect((await appState()).received).toHaveLength(4);
      expect(back).toHaveLength(1);
      expect(back[0]!.toString()).toContain("<service-unavailable");
    });
  }
});

describe("a hung local app", () => {
  it("fails the delivery call at the deadline (the queue keeps the batch for its retry)", async () => {
    // A LocalApp namespace whose DO never answers (holding the real one with blockConcurrencyWhile
    // does not hold reliably: see session-delivery-queue.test.ts).
    const stuck = { deliverMany: () => new Promise((r) => setTimeout(r, 120_000)) };
    const LOCAL_APP = { idFromName: () => ({}), get: () => stuck };
    await expect(deliverBatchToApp({ ...env, LOCAL_APP, DELIVERY_TIMEOUT_MS: DEADLINE } as never, [toAppStanza(msg("dl-local"))], "deadline-test")).rejects.toThrow(
      `the local app gave no answer within ${DEADLINE} ms (DELIVERY_TIMEOUT_MS)`,
    );
  });
});

describe("a hung DoH resolver", () => {
  it("is a resolver error at DOH_TIMEOUT_MS, not a wait", async () => {
    const answer = await querySrv(dohFetch(300), `http://127.0.0.1:${control()}/hang`, "_xmpp-server._tcp.example.org");
    expect(answer).toEqual({ kind: "error", reason: expect.stringContaining("no answer within 300 ms") });
  });
});
