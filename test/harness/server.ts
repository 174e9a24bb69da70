// Runs a HarnessPeer with its three ports: S2S over TCP (the edge dials it), an uplink port (each
// connection is a length-prefixed pipe that a workerd test relays to the edge's /xmpp-s2s WebSocket;
// its first frame names the job to run), and an HTTP control port the tests drive it with.

import { createServer as createHttp, type Server as HttpServer } from "node:http";
import { createServer, type Server } from "node:net";
import { createSecureContext } from "node:tls";
import selfsigned from "selfsigned";
import { Element, parse } from "ltx";
import { encodeFrame, FrameDecoder } from "./frames.js";
import { HarnessPeer, type Job } from "./peer.js";
import { framedWire } from "./wire.js";

export interface HarnessPorts {
  s2s: number;
  uplink: number;
  control: number;
}

export interface RunningHarness {
  peer: HarnessPeer;
  ports: HarnessPorts;
  close(): Promise<void>;
}

const jobView = (j: Job) => ({ ...j });

export async function startHarness(domain: string, secret: string, ports: HarnessPorts): Promise<RunningHarness> {
  const peer = new HarnessPeer(domain, secret);
  // A self-signed certificate for STARTTLS: what many real servers have, and what connect() refuses.
  const pems = await selfsigned.generate([{ name: "commonName", value: domain }], { days: 2, keySize: 2048 } as never);
  peer.tlsContext = createSecureContext({ key: pems.private, cert: pems.cert });
  const actual = { ...ports, s2s: await peer.listen(ports.s2s) };

  const uplink: Server = createServer((sock) => {
    const dec = new FrameDecoder();
    let wire: ReturnType<typeof framedWire> | undefined;
    sock.on("data", (chunk: Buffer) => {
      for (const text of dec.push(new Uint8Array(chunk))) {
        if (!wire) {
          const job = peer.jobs.get(text);
          if (!job) return void sock.destroy();
          wire = framedWire((t) => sock.write(encodeFrame(t)), () => sock.destroy());
          peer.runJob(job, wire);
          continue;
        }
        wire.receive(text);
      }
    });
    sock.on("close", () => wire?.ended());
    sock.on("error", () => {});
  });
  await new Promise<void>((r) => uplink.listen(ports.uplink, "127.0.0.1", r));
  actual.uplink = (uplink.address() as { port: number }).port;

  const dns = new Map<string, string[]>();
  /** Names the edge asked the DoH endpoint for since the last reset ("SRV name", "A:name", ...). */
  const dnsLog: string[] = [];
  // A stand-in for the operator's webhook: records deliveries, or fails with `hookStatus`.
  // `hang`: requests are held unanswered (a hung operator webhook) until the state is set again.
  const hook: { status: number; hang: boolean; received: { body: string; headers: Record<string, string | undefined> }[] } = { status: 204, hang: false, received: [] };
  let held: (() => void)[] = [];
  const waitUntil = async (pred: () => boolean, ms: number) => {
    const deadline = Date.now() + ms;
    while (!pred() && Date.now() < deadline) {
      await Promise.race([peer.changed(), new Promise((r) => setTimeout(r, Math.max(1, deadline - Date.now())))]);
    }
    return pred();
  };

  const control: HttpServer = createHttp(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://harness");
    let body = "";
    for await (const c of req) body += c;
    let json: any = {};
    try {
      json = body && req.headers["content-type"]?.includes("json") ? JSON.parse(body) : {};
    } catch {
      // not JSON (the webhook stand-in receives XML)
    }
    const send = (status: number, v: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(v));
    };
    const wait = Number(url.searchParams.get("wait") ?? "0");
    try {
      if (req.method === "POST" && url.pathname === "/reset") {
        peer.reset();
        dns.clear();
        dnsLog.length = 0;
        return send(200, {});
      }
      if (req.method === "POST" && url.pathname === "/config") {
        Object.assign(peer.config, json);
        return send(200, peer.config);
      }
      if (req.method === "POST" && url.pathname === "/jobs") {
        const job = peer.addJob(json);
        if (json.tcp) peer.dialTcp(job, json.tcp.host, json.tcp.port);
        return send(201, jobView(job));
      }
      const jm = /^\/jobs\/([0-9a-f]+)$/.exec(url.pathname);
      if (req.method === "GET" && jm) {
        const job = peer.jobs.get(jm[1]!);
        if (!job) return send(404, {});
        const until = url.searchParams.get("until")?.split(",") ?? [];
        if (until.length) await waitUntil(() => until.includes(job.state), wait);
        return send(200, jobView(job));
      }
      const sm = /^\/jobs\/([0-9a-f]+)\/send$/.exec(url.pathname);
      if (req.method === "POST" && sm) return send(peer.sendOn(sm[1]!, parse(json.xml) as Element) ? 200 : 409, {});
      if (req.method === "POST" && url.pathname === "/bidi-send") return send(peer.sendBidi(parse(json.xml) as Element) ? 200 : 409, {});
      if (req.method === "GET" && url.pathname === "/reverse") {
        // XEP-0288 reverse dialback (PeerConfig.reverse): waits for the edge's answer.
        await waitUntil(() => peer.reverse.result !== undefined, wait);
        return send(200, peer.reverse);
      }
      if (req.method === "POST" && url.pathname === "/drop") {
        peer.dropAll(url.searchParams.get("tcpOnly") === "1");
        return send(200, {});
      }
      if (req.method === "GET" && url.pathname === "/inbox") {
        const count = Number(url.searchParams.get("count") ?? "0");
        await waitUntil(() => peer.inbox.length >= count, wait);
        return send(200, { items: peer.inbox.map(String) });
      }
      if (req.method === "POST" && url.pathname === "/hook") {
        const h = (name: string) => req.headers[name] as string | undefined;
        hook.received.push({ body, headers: { "webhook-id": h("webhook-id"), "webhook-timestamp": h("webhook-timestamp"), "webhook-signature": h("webhook-signature") } });
        if (hook.hang) return void held.push(() => { res.writeHead(503); res.end(); });
        res.writeHead(hook.status);
        return res.end();
      }
      if (url.pathname === "/hang") {
        // Any request here is held like a hung webhook's (a DoH resolver that never answers, say).
        return void held.push(() => { res.writeHead(503); res.end(); });
      }
      if (url.pathname === "/hook-state") {
        if (req.method === "POST") {
          hook.status = json.status ?? 204;
          hook.hang = json.hang === true;
          hook.received = [];
          for (const release of held) release();
          held = [];
        }
        return send(200, hook);
      }
      if (req.method === "GET" && url.pathname === "/dns-query") {
        // DNS-over-HTTPS JSON for the edge's resolver: answers from `dns`, else NXDOMAIN. Keys: the
        // name for SRV data, "A:<name>" / "AAAA:<name>" for address records.
        const name = url.searchParams.get("name") ?? "";
        const type = url.searchParams.get("type") ?? "SRV";
        const code = type === "A" ? 1 : type === "AAAA" ? 28 : 33;
        dnsLog.push(code === 33 ? name : `${type}:${name}`);
        const records = dns.get(code === 33 ? name : `${type}:${name}`);
        // ["SERVFAIL"]: the resolver fails for that name (RFC 1035 RCODE 2), as a broken upstream would.
        if (records?.[0] === "SERVFAIL") return send(200, { Status: 2 });
        return send(200, records ? { Status: 0, Answer: records.map((data) => ({ name, type: code, data })) } : { Status: 3 });
      }
      if (req.method === "GET" && url.pathname === "/dns-log") return send(200, dnsLog);
      if (req.method === "POST" && url.pathname === "/dns") {
        for (const [name, records] of Object.entries(json as Record<string, string[]>)) dns.set(name, records);
        return send(200, {});
      }
      if (req.method === "GET" && url.pathname === "/stats") {
        const key = url.searchParams.get("key") as keyof typeof peer.stats | null;
        const atLeast = Number(url.searchParams.get("atLeast") ?? "0");
        if (key) await waitUntil(() => peer.stats[key] >= atLeast, wait);
        return send(200, peer.stats);
      }
      send(404, { error: `no route ${req.method} ${url.pathname}` });
    } catch (err) {
      send(500, { error: String(err) });
    }
  });
  await new Promise<void>((r) => control.listen(ports.control, "127.0.0.1", r));
  actual.control = (control.address() as { port: number }).port;

  return {
    peer,
    ports: actual,
    async close() {
      await peer.close();
      await new Promise<void>((r) => uplink.close(() => r()));
      await new Promise<void>((r) => control.close(() => r()));
    },
  };
}
