// Delivery to the operator's application through a real service binding (APP) inside workerd: the
// JS RPC entrypoint (deliver(xml)) and a fetch-only worker (POST /xmpp/inbound).
import { env } from "cloudflare:test";
import { parse, type Element } from "ltx";
import { beforeEach, describe, expect, it } from "vitest";
import { deliverToApp } from "../../durable-objects/lib/deliver.js";
import { toAppStanza } from "../../src/delivery/app-stanza.js";

type State = { received: { via: string; body: string; contentType?: string }[] };
const state = async (reset?: { status?: number; rpcResult?: boolean }): Promise<State> =>
  (await env.TEST_APP_FETCH.fetch("https://app.internal/state", reset ? { method: "POST", body: JSON.stringify(reset) } : {})).json();
const stanza = () => toAppStanza(parse("<message from='a@peer.test' to='b@edge.test' id='sb1'><body>over the binding</body></message>") as Element);

beforeEach(async () => {
  await state({});
});

describe("APP service binding delivery", () => {
  it("calls deliver(xml) on an RPC entrypoint", async () => {
    expect(await deliverToApp({ ...env, APP: env.TEST_APP_RPC }, stanza())).toEqual([]);
    const { received } = await state();
    expect(received).toEqual([{ via: "rpc", body: expect.stringContaining("over the binding") }]);
  });

  it("an RPC deliver that returns false is refused at once: one call, then the service-unavailable bounce", async () => {
    await state({ rpcResult: false });
    const back = await deliverToApp({ ...env, APP: env.TEST_APP_RPC }, stanza());
    expect((await state()).received).toHaveLength(1);
    expect(back).toHaveLength(1);
    expect(back[0]!.attrs).toMatchObject({ type: "error", id: "sb1", from: "b@edge.test", to: "a@peer.test" });
    expect(back[0]!.toString()).toContain("<service-unavailable");
  });

  it("POSTs the stanza to a fetch-only worker's /xmpp/inbound", async () => {
    expect(await deliverToApp({ ...env, APP: env.TEST_APP_FETCH }, stanza())).toEqual([]);
    const { received } = await state();
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ via: "fetch", body: expect.stringContaining("over the binding") });
  });
});
