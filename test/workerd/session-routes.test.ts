import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { APP } from "./helpers.js";
import app from "../../worker/index.js";

describe("GET /xmpp-s2s", () => {
  it("refuses a plain GET with 426 problem+json naming the WebSocket requirement", async () => {
    const res = await SELF.fetch("https://edge.test/xmpp-s2s");
    expect(res.status).toBe(426);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(res.headers.get("upgrade")).toBe("websocket");
    const body = await res.json<{ detail: string }>();
    expect(body.detail).toContain("Sec-WebSocket-Protocol: xmpp");
  });

  it("refuses an upgrade that does not offer the xmpp subprotocol (RFC 7395 §3.2)", async () => {
    const res = await SELF.fetch("https://edge.test/xmpp-s2s", { headers: { upgrade: "websocket", "sec-websocket-protocol": "chat" } });
    expect(res.status).toBe(400);
    expect((await res.json<{ detail: string }>()).detail).toContain("'xmpp'");
  });

  it("refuses gateway connection info without the right GATEWAY_TOKEN", async () => {
    const info = JSON.stringify({ peer: "192.0.2.1:4000", tls: { version: "TLSv1.3" } });
    for (const token of [undefined, "wrong-token-wrong-token-xx"]) {
      const headers: Record<string, string> = { upgrade: "websocket", "sec-websocket-protocol": "xmpp", "x-edge-connection": info };
      if (token) headers["x-edge-gateway-token"] = token;
      const res = await SELF.fetch("https://edge.test/xmpp-s2s", { headers });
      expect(res.status).toBe(403);
    }
    const res = await SELF.fetch("https://edge.test/xmpp-s2s", {
      headers: { upgrade: "websocket", "sec-websocket-protocol": "xmpp", "x-edge-connection": "{nope", "x-edge-gateway-token": "test-gateway-token-012345678" },
    });
    expect(res.status).toBe(400);
  });
});

describe("host-meta (XEP-0156 / XEP-0468)", () => {
  it("advertises the s2s-websocket link for the hosted domain named by the Host", async () => {
    const res = await SELF.fetch("https://edge.test/.well-known/host-meta");
    expect(res.headers.get("content-type")).toContain("application/xrd+xml");
    const xml = await res.text();
    expect(xml).toContain('<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">');
    expect(xml).toContain("<Subject>edge.test</Subject>");
    expect(xml).toContain('<Link rel="urn:xmpp:alt-connections:s2s-websocket" href="wss://edge.test/xmpp-s2s"/>');

    const json = await (await SELF.fetch("https://chat.edge.test/.well-known/host-meta.json")).json<Record<string, unknown>>();
    expect(json).toMatchObject({
      subject: "chat.edge.test",
      links: [{ rel: "urn:xmpp:alt-connections:s2s-websocket", href: "wss://chat.edge.test/xmpp-s2s" }],
    });
  });

  // Issue 10.10: the link never echoes the request's Host.
  it("answers 404 problem+json for a Host that is not a hosted domain, on both forms", async () => {
    for (const path of ["/.well-known/host-meta", "/.well-known/host-meta.json"]) {
      for (const host of ["evil.example", "edge.workers.dev", "edge.test.evil.example"]) {
        const res = await SELF.fetch(`https://${host}${path}`);
        expect(res.status).toBe(404);
        expect(res.headers.get("content-type")).toBe("application/problem+json");
        expect(await res.text()).not.toContain(host);
      }
    }
  });

  it("advertises wss://<hosted domain> whatever port the Host names", async () => {
    const xml = await (await SELF.fetch("https://edge.test:9999/.well-known/host-meta")).text();
    expect(xml).toContain('href="wss://edge.test/xmpp-s2s"');
    expect(xml).not.toContain("9999");
  });

  it("with EDGE_PUBLIC_URL: advertises it for a hosted domain, lists every domain on its own host, 404 elsewhere", async () => {
    const withUrl = { ...env, EDGE_PUBLIC_URL: "https://xmpp.edge.example" };
    const get = (url: string) => app.request(url, {}, withUrl);
    const json = await (await get("https://edge.test/.well-known/host-meta.json")).json<Record<string, any>>();
    expect(json).toMatchObject({ subject: "edge.test", links: [{ rel: "urn:xmpp:alt-connections:s2s-websocket", href: "wss://xmpp.edge.example/xmpp-s2s" }] });
    const own = await (await get("https://xmpp.edge.example/.well-known/host-meta.json")).json<Record<string, any>>();
    expect(own.subject).toBeUndefined();
    expect(own.links).toEqual([{ rel: "urn:xmpp:alt-connections:s2s-websocket", href: "wss://xmpp.edge.example/xmpp-s2s" }]);
    expect(own.properties["urn:dialback-edge:domains"]).toBe("edge.test,chat.edge.test");
    const xml = await (await get("https://xmpp.edge.example/.well-known/host-meta")).text();
    expect(xml).toContain('href="wss://xmpp.edge.example/xmpp-s2s"');
    expect((await get("https://evil.example/.well-known/host-meta")).status).toBe(404);
    expect((await get("https://evil.example/.well-known/host-meta.json")).status).toBe(404);
  });

  it("ws:// to a loopback Host only in development (npm start); in production a loopback Host is unknown", async () => {
    const dev = await (await SELF.fetch("http://127.0.0.1:8787/.well-known/host-meta.json")).json<Record<string, any>>();
    expect(dev.links).toEqual([{ rel: "urn:xmpp:alt-connections:s2s-websocket", href: "ws://127.0.0.1:8787/xmpp-s2s" }]);
    const prod = await app.request("http://127.0.0.1:8787/.well-known/host-meta.json", {}, { ...env, EDGE_ENV: "production" });
    expect(prod.status).toBe(404);
  });
});

describe("POST /api/v1/stanzas", () => {
  const post = (body: string, headers: Record<string, string> = APP) =>
    SELF.fetch("https://edge.test/api/v1/stanzas", { method: "POST", headers: { "content-type": "application/xml", ...headers }, body });

  it("requires the bearer APP_TOKEN (401 with WWW-Authenticate)", async () => {
    const none = await post("<message/>", {});
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toBe('Bearer realm="api"');
    const wrong = await post("<message/>", { authorization: "Bearer test-app-token-0123456789aX" });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("www-authenticate")).toContain('error="invalid_token"');
  });

  it("refuses what is not one stanza from a hosted domain to a remote one, saying why", async () => {
    const cases: [string, number, string][] = [
      ["<message", 422, "well-formed"],
      ["<foo from='a@edge.test' to='b@peer.test'/>", 422, "not a stanza"],
      ["<message to='b@peer.test'/>", 422, "'from' is required"],
      ["<message from='a@other.test' to='b@peer.test'/>", 422, "not hosted here"],
      ["<message from='a@edge.test' to='b@chat.edge.test'/>", 422, "is hosted here"],
      ["<iq from='edge.test' to='peer.test' type='bogus'/>", 422, "iq needs type"],
      [`<message from='a@edge.test' to='b@peer.test'><body>${"x".repeat(300_000)}</body></message>`, 413, "MAX_STANZA_BYTES"],
    ];
    for (const [xml, status, detail] of cases) {
      const res = await post(xml);
      expect(res.status, xml.slice(0, 60)).toBe(status);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect((await res.json<{ detail: string }>()).detail).toContain(detail);
    }
  });

  it("accepts a stanza with 202 and an id once the remote domain's DO has it", async () => {
    const res = await post("<message xmlns='jabber:client' from='app@edge.test' to='user@unreachable.test'><body>hello</body></message>");
    expect(res.status).toBe(202);
    const body = await res.json<{ id: string; to: string; status: string }>();
    expect(body).toMatchObject({ to: "unreachable.test", status: "queued" });
    expect(body.id).toMatch(/^edge-[0-9a-f]{24}$/);
  });
});

describe("GET /api/v1/inbox (default local app)", () => {
  it("answers ping itself and keeps messages, newest first", async () => {
    const app = env.LOCAL_APP.get(env.LOCAL_APP.idFromName("local"));
    const replies = await app.deliver(`<iq type="get" id="p" from="peer.test" to="edge.test"><ping xmlns="urn:xmpp:ping"/></iq>`);
    expect(replies).toEqual([`<iq type="result" id="p" from="edge.test" to="peer.test"/>`]);
    expect(await app.deliver(`<message from="a@peer.test" to="b@edge.test" id="m1"><body>one</body></message>`)).toEqual([]);
    expect(await app.deliver(`<message from="a@peer.test" to="b@edge.test" id="m2"><body>two</body></message>`)).toEqual([]);
    const res = await SELF.fetch("https://edge.test/api/v1/inbox?limit=50", { headers: APP });
    expect(res.status).toBe(200);
    const { items } = await res.json<{ items: { xml: string; from: string; kind: string }[] }>();
    // Other tests in this file leave bounces in the inbox too; these two are ours, newest first.
    expect(items.filter((i) => i.from === "a@peer.test").map((i) => i.xml)).toEqual([
      `<message from="a@peer.test" to="b@edge.test" id="m2"><body>two</body></message>`,
      `<message from="a@peer.test" to="b@edge.test" id="m1"><body>one</body></message>`,
    ]);
    expect((await SELF.fetch("https://edge.test/api/v1/inbox")).status).toBe(401);
  });
});
