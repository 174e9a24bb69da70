import { createHmac, timingSafeEqual } from "node:crypto";
import { parse, type Element } from "ltx";
import { describe, expect, it } from "vitest";
import {
  deliverWithRetry,
  localApp,
  serviceBindingTransport,
  undeliverable,
  verifyWebhook,
  webhookTransport,
  type PostFn,
} from "../../src/delivery/index.js";

/**
 * The receiver's check, written from the Standard Webhooks specification (standardwebhooks.com,
 * "Verifying webhook authenticity") with node:crypto, independently of src/delivery/signature.ts.
 */
function standardWebhooksValid(key: Buffer, headers: Record<string, string | undefined>, body: string, nowS: number): boolean {
  const id = headers["webhook-id"], ts = headers["webhook-timestamp"], sig = headers["webhook-signature"];
  if (!id || !ts || !sig || Math.abs(nowS - Number(ts)) > 300) return false;
  const expected = createHmac("sha256", key).update(`${id}.${ts}.${body}`).digest();
  return sig.split(" ").some((entry) => {
    const [v, b64] = entry.split(",");
    const got = Buffer.from(b64 ?? "", "base64");
    return v === "v1" && got.length === expected.length && timingSafeEqual(got, expected);
  });
}

const noSleep = { now: () => 1_700_000_000_000, sleep: async () => {} };
const msg = `<message xmlns="jabber:server" from="a@peer.test" to="b@edge.test" id="m1" type="chat"><body>hi</body></message>`;

describe("webhook delivery", () => {
  it("POSTs the stanza XML signed in the Standard Webhooks format, verified by an independent implementation", async () => {
    const calls: { url: string; headers: Record<string, string>; body: string }[] = [];
    const post: PostFn = async (url, init) => {
      calls.push({ url, headers: init.headers, body: init.body });
      return { ok: true, status: 204 };
    };
    const t = webhookTransport("https://app.test/hook", "webhook-secret", post);
    const r = await deliverWithRetry(t, msg, noSleep);
    expect(r).toEqual({ ok: true, attempts: 1 });
    expect(calls[0]!.url).toBe("https://app.test/hook");
    expect(calls[0]!.body).toBe(msg);
    const h = calls[0]!.headers;
    expect(h["webhook-id"]).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(h["webhook-timestamp"]).toBe("1700000000");
    expect(h["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(standardWebhooksValid(Buffer.from("webhook-secret"), h, msg, 1_700_000_000)).toBe(true);
    expect(await verifyWebhook("webhook-secret", h, msg, noSleep.now())).toBe(true);
    expect(await verifyWebhook("other-secret", h, msg, noSleep.now())).toBe(false);
    expect(await verifyWebhook("webhook-secret", h, msg + " ", noSleep.now())).toBe(false);
    expect(await verifyWebhook("webhook-secret", { ...h, "webhook-id": "msg_other" }, msg, noSleep.now())).toBe(false);
    // A replay ten minutes later is refused.
    expect(await verifyWebhook("webhook-secret", h, msg, noSleep.now() + 600_000)).toBe(false);
  });

  it("a whsec_ secret is the base64 of the key (what the standardwebhooks libraries generate)", async () => {
    const key = Buffer.from("0123456789abcdef0123456789abcdef");
    const secret = `whsec_${key.toString("base64")}`;
    const calls: Record<string, string>[] = [];
    const t = webhookTransport("https://app.test/hook", secret, async (_url, init) => (calls.push(init.headers), { ok: true, status: 204 }));
    await deliverWithRetry(t, msg, noSleep);
    expect(standardWebhooksValid(key, calls[0]!, msg, 1_700_000_000)).toBe(true);
    // Not the UTF-8 of the secret text.
    expect(standardWebhooksValid(Buffer.from(secret), calls[0]!, msg, 1_700_000_000)).toBe(false);
  });

  it("every retry of one stanza carries the same webhook-id, with its own timestamp", async () => {
    let now = 1_700_000_000_000;
    const calls: Record<string, string>[] = [];
    const t = webhookTransport("https://app.test/hook", "webhook-secret", async (_url, init) => (calls.push(init.headers), { ok: false, status: 503 }));
    await deliverWithRetry(t, msg, { now: () => now, sleep: async (ms) => void (now += ms) });
    expect(calls).toHaveLength(4);
    expect(new Set(calls.map((c) => c["webhook-id"])).size).toBe(1);
    // Each attempt is signed at its own time (the backoff moves the clock on).
    expect(Number(calls[3]!["webhook-timestamp"])).toBeGreaterThan(Number(calls[0]!["webhook-timestamp"]));
    for (const c of calls) expect(standardWebhooksValid(Buffer.from("webhook-secret"), c, msg, Number(c["webhook-timestamp"]))).toBe(true);
  });

  it("retries 5xx and network errors with backoff, then reports the last failure", async () => {
    const slept: number[] = [];
    let n = 0;
    const post: PostFn = async () => {
      n++;
      if (n === 1) throw new Error("ECONNREFUSED");
      return { ok: false, status: 503 };
    };
    const r = await deliverWithRetry(webhookTransport("https://app.test/h", undefined, post), msg, {
      now: () => 0,
      sleep: async (ms) => void slept.push(ms),
    });
    expect(r).toMatchObject({ ok: false, retryable: true, attempts: 4, reason: "webhook answered HTTP 503" });
    expect(slept).toEqual([250, 1000, 5000]);
  });

  it("does not retry a stanza the application refused (4xx)", async () => {
    const r = await deliverWithRetry(webhookTransport("https://app.test/h", undefined, async () => ({ ok: false, status: 422 })), msg, noSleep);
    expect(r).toMatchObject({ ok: false, retryable: false, attempts: 1 });
  });

  it("succeeds on a later attempt", async () => {
    let n = 0;
    const r = await deliverWithRetry(webhookTransport("https://app.test/h", undefined, async () => ({ ok: ++n === 3, status: n === 3 ? 200 : 502 })), msg, noSleep);
    expect(r).toEqual({ ok: true, attempts: 3 });
  });
});

describe("service binding delivery", () => {
  it("prefers the RPC deliver(xml) method", async () => {
    const got: string[] = [];
    const t = serviceBindingTransport({
      deliver: async (xml) => void got.push(xml),
      fetch: async () => { throw new Error("fetch must not be used"); },
    });
    expect(await t.send(msg, 0)).toEqual({ ok: true });
    expect(got).toEqual([msg]);
  });

  it("falls back to fetch and maps its status", async () => {
    const t = serviceBindingTransport({ fetch: async (_u, init) => ({ ok: init.body === msg, status: 500 }) });
    expect(await t.send(msg, 0)).toEqual({ ok: true });
    const bad = serviceBindingTransport({ fetch: async () => ({ ok: false, status: 500 }) });
    expect(await bad.send(msg, 0)).toMatchObject({ ok: false, retryable: true });
  });
});

describe("undeliverable stanzas", () => {
  it("bounce messages and iq get/set with service-unavailable, keeping id and swapping from/to", () => {
    const b = undeliverable(parse(msg) as Element)!;
    expect(b.attrs).toMatchObject({ type: "error", id: "m1", from: "b@edge.test", to: "a@peer.test" });
    expect(b.getChild("error")!.getChild("service-unavailable", "urn:ietf:params:xml:ns:xmpp-stanzas")).toBeTruthy();
    expect(undeliverable(parse(`<iq type="set" id="i" from="peer.test" to="edge.test"><q xmlns="x"/></iq>`) as Element)).toBeTruthy();
  });

  it("never bounce presence, iq results or errors", () => {
    expect(undeliverable(parse(`<presence from="a@peer.test" to="b@edge.test"/>`) as Element)).toBeUndefined();
    expect(undeliverable(parse(`<iq type="result" id="i" from="peer.test" to="edge.test"/>`) as Element)).toBeUndefined();
    expect(undeliverable(parse(`<message type="error" from="peer.test" to="edge.test"/>`) as Element)).toBeUndefined();
  });
});

describe("local app", () => {
  const hosted = ["edge.test"];
  it("answers XEP-0199 ping on the domain", () => {
    const r = localApp(parse(`<iq type="get" id="p1" from="peer.test" to="edge.test"><ping xmlns="urn:xmpp:ping"/></iq>`) as Element, hosted);
    expect(r.store).toBe(false);
    expect(r.replies.map(String)).toEqual([`<iq type="result" id="p1" from="edge.test" to="peer.test"/>`]);
  });

  it("answers XEP-0030 disco#info on the domain with identity server/im and its features", () => {
    const r = localApp(parse(`<iq type="get" id="d1" from="u@peer.test/r" to="edge.test"><query xmlns="http://jabber.org/protocol/disco#info"/></iq>`) as Element, hosted);
    const q = r.replies[0]!.getChild("query", "http://jabber.org/protocol/disco#info")!;
    expect(q.getChild("identity")!.attrs).toMatchObject({ category: "server", type: "im" });
    expect(q.getChildren("feature").map((f) => f.attrs.var)).toEqual(["http://jabber.org/protocol/disco#info", "urn:xmpp:ping"]);
  });

  it("answers other iq get/set with service-unavailable, including ping to a user", () => {
    for (const xml of [
      `<iq type="set" id="x" from="peer.test" to="edge.test"><query xmlns="jabber:iq:roster"/></iq>`,
      `<iq type="get" id="x" from="peer.test" to="u@edge.test"><ping xmlns="urn:xmpp:ping"/></iq>`,
    ]) {
      const r = localApp(parse(xml) as Element, hosted);
      expect(r.replies[0]!.attrs.type).toBe("error");
      expect(r.replies[0]!.getChild("error")!.getChild("service-unavailable")).toBeTruthy();
    }
  });

  it("stores messages and presence without answering", () => {
    expect(localApp(parse(msg) as Element, hosted)).toEqual({ replies: [], store: true });
    expect(localApp(parse(`<presence from="a@peer.test" to="b@edge.test"/>`) as Element, hosted)).toEqual({ replies: [], store: true });
  });
});
