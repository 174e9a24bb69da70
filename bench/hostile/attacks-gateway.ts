// Attacks on the parsers and the TCP gateway (issue 10 items 1, 2 and 6).

import { connect, type Socket } from "node:net";
import { ATTACK_MAX_MS, pool, sleep, Tally, type Attack, type Running } from "./attack.js";
import { dialTcp, dialWs, streamError, tcpHeader, verifiedStream, wsOpen, type RawConn } from "./raw.js";
import { ATTACKER_IP, EDGE_DOMAIN, GATEWAY_HOST, HARNESS_SECRET, MAX_STANZA_BYTES, PEER_DOMAIN, type HostileStack } from "./stack.js";

// ---- 1. Connections that never finish the handshake: 1,500 on 5270 (direct TLS) and 500 on 5269.

const FLOOD = [
  { port: 5270, count: 1500 },
  { port: 5269, count: 500 },
];

export const preHandshakeFlood: Attack = {
  n: 1,
  name: "pre-handshake flood 1500x5270 + 500x5269",
  async start(): Promise<Running> {
    const sockets = new Set<Socket>();
    let open = 0;
    const seen = new Tally();
    let stopping = false;
    const one = (port: number) =>
      new Promise<void>((resolve) => {
        const s = connect({ host: GATEWAY_HOST, port, localAddress: ATTACKER_IP });
        let up = false;
        sockets.add(s);
        s.setTimeout(8_000, () => resolve());
        s.once("connect", () => {
          up = true;
          open++;
          seen.add(`${port} connected`);
          resolve();
        });
        s.on("data", () => {});
        s.on("error", (e: NodeJS.ErrnoException) => {
          if (!up) seen.add(`${port} ${e.code ?? "error"}`);
        });
        s.on("close", () => {
          sockets.delete(s);
          if (up) {
            open--;
            if (!stopping) seen.add(`${port} closed by gateway`);
          }
          resolve();
        });
      });
    const stopAt = setTimeout(() => void run.stop(), ATTACK_MAX_MS);
    const ready = (async () => {
      for (const { port, count } of FLOOD) for (let i = 0; i < count; i += 100) await Promise.all(Array.from({ length: Math.min(100, count - i) }, () => one(port)));
      await sleep(1000);
    })();
    const run: Running = {
      ready,
      held: () => open,
      async stop() {
        clearTimeout(stopAt);
        const stillOpen = open;
        stopping = true;
        for (const s of sockets) s.destroy();
        return `${seen}; open at the end ${stillOpen}`;
      },
    };
    return run;
  },
};

// ---- 2. One element with 20,000 attributes / 14,000 namespace declarations (fits MAX_STANZA_BYTES),
// over the gateway (TCP) and straight over a WebSocket, two at a time, 24 elements at most.

const ATTRS = Array.from({ length: 20_000 }, (_, i) => ` a${i}=''`).join("");
const NSDECLS = Array.from({ length: 14_000 }, (_, i) => ` xmlns:n${i}='u'`).join("");

export const manyAttributes: Attack = {
  n: 2,
  name: "element with 20,000 attributes / 14,000 xmlns",
  async start(stack: HostileStack): Promise<Running> {
    const variants = ["gateway attrs", "ws attrs", "gateway xmlns", "ws xmlns"] as const;
    const seen = new Tally();
    const conns = new Set<RawConn>();
    let stopped = false;
    let sent = 0;
    const deadline = Date.now() + ATTACK_MAX_MS;
    const worker = async () => {
      while (!stopped && sent < 24 && Date.now() < deadline) {
        const v = variants[sent++ % variants.length]!;
        const overTcp = v.startsWith("gateway");
        const body = v.endsWith("attrs") ? ATTRS : NSDECLS;
        let c: RawConn;
        try {
          c = overTcp ? await dialTcp(GATEWAY_HOST, 5269, ATTACKER_IP) : await dialWs(stack.wsUrl, ATTACKER_IP);
        } catch (e) {
          seen.add(`${v}: dial failed`);
          continue;
        }
        conns.add(c);
        c.write(overTcp ? tcpHeader("evil.test", EDGE_DOMAIN) : wsOpen("evil.test", EDGE_DOMAIN));
        c.write(`<message${overTcp ? "" : " xmlns='jabber:server'"} from='a@evil.test' to='b@${EDGE_DOMAIN}'${body}/>`);
        const closed = await c.waitClosed(8_000);
        seen.add(`${v}: ${streamError(c.text) ?? (closed ? "closed" : "no answer in 8 s")}`);
        c.destroy();
        conns.delete(c);
      }
    };
    const workers = [worker(), worker()];
    return {
      ready: sleep(1500),
      held: () => conns.size,
      async stop() {
        stopped = true;
        for (const c of conns) c.destroy();
        await Promise.all(workers);
        return `${sent} elements sent: ${seen}`;
      },
    };
  },
};

// ---- 6. A verified peer sends, through the gateway, 80 KB of '>' as text and an attribute full of
// '"' with the whole stanza exactly MAX_STANZA_BYTES, then a small stanza: all three are legal.

export const escapingGrowth: Attack = {
  n: 6,
  name: "80 KB of '>' text + '\"' attribute at MAX_STANZA_BYTES via gateway",
  async start(stack: HostileStack): Promise<Running> {
    const seen = new Tally();
    const sentIds: string[] = [];
    let conn: RawConn | undefined;
    let stopped = false;
    const deadline = Date.now() + ATTACK_MAX_MS;
    const gt = (id: string) => `<message from='u@${PEER_DOMAIN}' to='app@${EDGE_DOMAIN}' id='${id}' type='chat'><body>${">".repeat(80_000)}</body></message>`;
    const quot = (id: string) => {
      const head = `<message from='u@${PEER_DOMAIN}' to='app@${EDGE_DOMAIN}' id='${id}' type='chat' x='`;
      return head + '"'.repeat(MAX_STANZA_BYTES - head.length - 3) + "'/>";
    };
    const loop = (async () => {
      for (let round = 1; round <= 5 && !stopped && Date.now() < deadline; round++) {
        if (!conn || conn.closed) {
          try {
            conn = await verifiedStream(await dialTcp(GATEWAY_HOST, 5269, ATTACKER_IP), PEER_DOMAIN, EDGE_DOMAIN, HARNESS_SECRET);
          } catch (e) {
            seen.add(`stream not verified (${(e as Error).message.slice(0, 60)})`);
            await sleep(1000);
            continue;
          }
        }
        const ids = [`gt${round}`, `q${round}`, `ok${round}`];
        conn.write(gt(ids[0]!));
        conn.write(quot(ids[1]!));
        conn.write(`<message from='u@${PEER_DOMAIN}' to='app@${EDGE_DOMAIN}' id='${ids[2]}' type='chat'><body>small</body></message>`);
        sentIds.push(...ids);
        if (await conn.waitClosed(1500)) seen.add(`stream closed: ${streamError(conn.text) ?? "no stream error"}`);
      }
    })();
    return {
      ready: sleep(1500),
      held: () => (conn && !conn.closed ? 1 : 0),
      async stop() {
        stopped = true;
        await loop;
        // Give the last stanzas a moment to reach the webhook.
        const delivered = () => sentIds.filter((id) => stack.hook.bodies.some((b) => b.includes(`id='${id}'`) || b.includes(`id="${id}"`)));
        for (let i = 0; i < 20 && delivered().length < sentIds.length; i++) await sleep(250);
        conn?.destroy();
        const d = delivered();
        const kind = (p: string) => `${d.filter((id) => id.startsWith(p)).length}/${sentIds.filter((id) => id.startsWith(p)).length}`;
        return `delivered: '>'x80000 ${kind("gt")}, '"' at limit ${kind("q")}, small after ${kind("ok")}; stream closures: ${seen}`;
      },
    };
  },
};
