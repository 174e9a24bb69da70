// Attacks through HTTP (issue 10 items 5, 9 and 10): a hung delivery webhook, hostile admin
// requests, and a spoofed Host header on host-meta.

import { request } from "node:http";
import { sleep, Tally, type Attack, type Running } from "./attack.js";
import { dialWs, verifiedStream, type RawConn } from "./raw.js";
import { EDGE_DOMAIN, HARNESS_SECRET, PEER_DOMAIN, type HostileStack } from "./stack.js";

// ---- 5. The delivery webhook hangs (accepts the request, never answers) while a verified peer sends
// 100 stanzas; then it recovers, and the bench counts how many of the 100 arrive within 40 s.

const SENDER_IP = "127.0.0.11";
const RECOVERY_WAIT_MS = 40_000;

export const hungWebhook: Attack = {
  n: 5,
  name: "hung delivery webhook, 100 stanzas queued",
  async start(stack: HostileStack): Promise<Running> {
    stack.hook.mode = "hang";
    const hungBefore = stack.hook.hung;
    let conn: RawConn | undefined;
    const ids = Array.from({ length: 100 }, (_, i) => `wh${i}-${Date.now().toString(36)}`);
    let problem = "";
    const ready = (async () => {
      try {
        conn = await verifiedStream(await dialWs(stack.wsUrl, SENDER_IP), PEER_DOMAIN, EDGE_DOMAIN, HARNESS_SECRET);
        for (const id of ids) conn.write(`<message xmlns='jabber:server' from='u@${PEER_DOMAIN}' to='app@${EDGE_DOMAIN}' id='${id}' type='chat'><body>q</body></message>`);
      } catch (e) {
        problem = `sender not verified: ${(e as Error).message.slice(0, 80)}; `;
      }
      await sleep(2000);
    })();
    return {
      ready,
      held: () => (conn && !conn.closed ? 1 : 0),
      async stop() {
        await ready;
        const hung = stack.hook.hung - hungBefore;
        stack.hook.mode = "ok";
        const t0 = performance.now();
        const delivered = () => ids.filter((id) => stack.hook.bodies.some((b) => b.includes(id))).length;
        while (delivered() < ids.length && performance.now() - t0 < RECOVERY_WAIT_MS) await sleep(250);
        const n = delivered();
        conn?.destroy();
        const secs = ((performance.now() - t0) / 1000).toFixed(1);
        return `${problem}webhook held ${hung} requests unanswered; after it recovered ${n}/100 delivered ${n === 100 ? `in ${secs} s` : `within ${secs} s`}`;
      },
    };
  },
};

// ---- 9. Admin API: double-decoded percent escapes, 5,000-deep JSON, prototype keys.

const DEEP = '{"zz":'.repeat(5000) + "1" + "}".repeat(5000);
const ADMIN: { label: string; method: string; path: string; body?: string; type?: string }[] = [
  { label: "%25", method: "GET", path: "/admin/v1/policy/domains/%25" },
  { label: "%C0%AF", method: "GET", path: "/admin/v1/policy/domains/%C0%AF" },
  { label: "__proto__", method: "GET", path: "/admin/v1/policy/domains/__proto__" },
  { label: "constructor", method: "GET", path: "/admin/v1/policy/domains/constructor" },
  { label: "5000-deep JSON", method: "PATCH", path: "/admin/v1/policy", body: DEEP, type: "application/merge-patch+json" },
];

export const hostileAdmin: Attack = {
  n: 9,
  name: "admin: %25, %C0%AF, 5000-deep JSON, __proto__/constructor",
  async start(stack: HostileStack): Promise<Running> {
    const seen = new Map(ADMIN.map((a) => [a.label, new Tally()]));
    let stopped = false;
    const deadline = Date.now() + 20_000;
    const loop = (async () => {
      while (!stopped && Date.now() < deadline) {
        for (const a of ADMIN) {
          const res = await stack.api(a.path, { method: a.method, ...(a.body ? { body: a.body, headers: { "content-type": a.type! } } : {}) }, stack.tokens.admin).catch(() => undefined);
          const problem = res?.headers.get("content-type")?.includes("problem+json") ? "" : " (not problem+json)";
          seen.get(a.label)!.add(res ? `${res.status}${problem}` : "failed");
          await res?.arrayBuffer();
        }
        await sleep(100);
      }
    })();
    return {
      ready: sleep(1000),
      held: () => 0,
      async stop() {
        stopped = true;
        await loop;
        return ADMIN.map((a) => `${a.label}: ${seen.get(a.label)}`).join("; ");
      },
    };
  },
};

// ---- 10. Host: evil.example on host-meta (must never be advertised).

function get(url: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

export const hostSpoof: Attack = {
  n: 10,
  name: "Host: evil.example on host-meta",
  async start(stack: HostileStack): Promise<Running> {
    const seen = new Tally();
    let stopped = false;
    const loop = (async () => {
      for (let i = 0; i < 50 && !stopped; i++) {
        for (const path of ["/.well-known/host-meta", "/.well-known/host-meta.json"]) {
          const r = await get(stack.edgeUrl + path, "evil.example").catch(() => undefined);
          seen.add(r ? `${path.slice(12)} ${r.status}${r.body.includes("evil.example") ? " advertises evil.example" : ""}` : `${path} failed`);
        }
        await sleep(100);
      }
    })();
    return {
      ready: sleep(500),
      held: () => 0,
      async stop() {
        stopped = true;
        await loop;
        return `${seen}`;
      },
    };
  },
};
