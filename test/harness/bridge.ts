// Runs inside workerd tests: drives the harness over its control port, and relays one of its uplinks
// to the edge's /xmpp-s2s WebSocket (SELF.fetch with Upgrade), so the harness dials the edge over
// real XEP-0468 framing.

import { connect } from "cloudflare:sockets";
import { SELF } from "cloudflare:test";
import { parse, type Element } from "ltx";
import { inject } from "vitest";
import { encodeFrame, FrameDecoder } from "./frames.js";
import type { Job, Stats } from "./peer.js";

const ports = () => inject("harnessPorts");

export async function harness<T = unknown>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
  const res = await fetch(`http://127.0.0.1:${ports().control}${path}`, {
    method,
    ...(body !== undefined ? { body: JSON.stringify(body), headers: { "content-type": "application/json" } } : {}),
  });
  if (!res.ok && res.status !== 409) throw new Error(`harness ${method} ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

export const waitJob = (id: string, states: string[], ms = 10_000) =>
  harness<Job>("GET", `/jobs/${id}?until=${states.join(",")}&wait=${ms}`);
export const inbox = (count: number, ms = 10_000) => harness<{ items: string[] }>("GET", `/inbox?count=${count}&wait=${ms}`);
export const stats = (key?: keyof Stats, atLeast = 0, ms = 10_000) =>
  harness<Stats>("GET", key ? `/stats?key=${key}&atLeast=${atLeast}&wait=${ms}` : "/stats");

/** Reads the harness's pipe until it ends, handing over the frames of each read (never none). */
async function pumpFrames(sock: ReturnType<typeof connect>, onFrames: (frames: string[]) => void): Promise<void> {
  const dec = new FrameDecoder();
  const reader = sock.readable.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const frames = dec.push(value);
      if (frames.length > 0) onFrames(frames);
    }
  } catch {
    // the harness dropped the pipe
  }
}

export interface Uplink {
  /** The edge's WebSocket (to close it, or to look at the response). */
  ws: WebSocket;
  /** The edge agreed to several frames per message (X-Edge-Framing: batched). */
  batched: boolean;
  closed: Promise<void>;
  /** Frames the edge sent, as text, in order. */
  fromEdge: string[];
}

/** Opens /xmpp-s2s on the edge and a pipe to the harness's uplink port; the harness runs `jobId`. */
export async function uplink(jobId: string, headers: Record<string, string> = {}): Promise<Uplink> {
  const res = await SELF.fetch("https://edge.test/xmpp-s2s", {
    headers: { upgrade: "websocket", "sec-websocket-protocol": "xmpp", ...headers },
  });
  if (res.status !== 101 || !res.webSocket) throw new Error(`upgrade refused: ${res.status} ${await res.text()}`);
  const ws = res.webSocket;
  const batched = res.headers.get("x-edge-framing") === "batched";
  ws.accept();
  const sock = connect({ hostname: "127.0.0.1", port: ports().uplink });
  const writer = sock.writable.getWriter();
  const fromEdge: string[] = [];
  let chain = writer.write(encodeFrame(jobId));
  ws.addEventListener("message", (e) => {
    const text = typeof e.data === "string" ? e.data : new TextDecoder().decode(e.data as ArrayBuffer);
    fromEdge.push(text);
    chain = chain.then(() => writer.write(encodeFrame(text))).catch(() => {});
  });
  const closed = new Promise<void>((resolve) => {
    ws.addEventListener("close", () => {
      void sock.close().catch(() => {});
      resolve();
    });
  });
  void (async () => {
    await pumpFrames(sock, (frames) => {
      // An edge that agreed to batched framing (the gateway's link) gets what one read brought as one message.
      if (batched) ws.send(frames.join(""));
      else for (const t of frames) ws.send(t);
    });
    try {
      ws.close(1000, "harness closed");
    } catch {
      // already closed
    }
  })();
  return { ws, batched, closed, fromEdge };
}

/** One channel of a multiplexed link (muxLink): a harness job's stream as a gateway connection. */
export interface MuxChannel {
  ch: number;
  /** The edge closed the channel ({"op":"close"}). */
  closed: Promise<void>;
  /** Data the edge sent on this channel, as text, in order. */
  fromEdge: string[];
  /** The edge's data messages on this channel as they came (each may hold several frames). */
  messages: string[];
  /** Ends the channel as the gateway does when its TCP connection ends. */
  close(): void;
}

export interface MuxLink {
  ws: WebSocket;
  /** The link's WebSocket closed; with its code. */
  closed: Promise<number>;
  /** Every message the edge sent on the link, in order. */
  messages: string[];
  /** The edge's 101 said it reads batch messages (X-Edge-Mux-Batch: 1). */
  readsBatches: boolean;
  /** Opens channel `ch` for harness job `jobId`, with that connection's info (src/gateway-contract.ts). */
  channel(jobId: string, info: Record<string, unknown>, ch?: number): MuxChannel;
}

/**
 * Opens a multiplexed gateway link (src/gateway-contract.ts) on the edge's /xmpp-s2s: each channel
 * pipes one harness job's stream, as the gateway carries one TCP connection.
 */
export async function muxLink(headers: Record<string, string>): Promise<MuxLink> {
  const res = await SELF.fetch("https://edge.test/xmpp-s2s", {
    headers: { upgrade: "websocket", "sec-websocket-protocol": "xmpp", ...headers },
  });
  if (res.status !== 101 || !res.webSocket) throw new Error(`upgrade refused: ${res.status} ${await res.text()}`);
  if (res.headers.get("x-edge-mux") !== "1") throw new Error("the edge did not agree to a multiplexed link");
  const ws = res.webSocket;
  ws.accept();
  const messages: string[] = [];
  const channels = new Map<number, { data(text: string): void; closedByEdge(): void }>();
  ws.addEventListener("message", (e) => {
    const text = typeof e.data === "string" ? e.data : new TextDecoder().decode(e.data as ArrayBuffer);
    messages.push(text);
    if (text.startsWith("{")) {
      const c = JSON.parse(text) as { op: string; ch: number };
      if (c.op === "close") channels.get(c.ch)?.closedByEdge();
      return;
    }
    const space = text.indexOf(" ");
    channels.get(Number(text.slice(0, space)))?.data(text.slice(space + 1));
  });
  const closed = new Promise<number>((resolve) => ws.addEventListener("close", (e) => resolve(e.code)));
  let next = 1;
  return {
    ws,
    closed,
    messages,
    readsBatches: res.headers.get("x-edge-mux-batch") === "1",
    channel(jobId, info, ch = next++) {
      ws.send(JSON.stringify({ op: "open", ch, info }));
      const sock = connect({ hostname: "127.0.0.1", port: ports().uplink });
      const writer = sock.writable.getWriter();
      const fromEdge: string[] = [];
      const messages: string[] = [];
      let chain = writer.write(encodeFrame(jobId));
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        channels.delete(ch);
        void sock.close().catch(() => {});
      };
      let closedByEdge!: () => void;
      const closedP = new Promise<void>((resolve) => (closedByEdge = resolve));
      channels.set(ch, {
        // A channel's message may hold several frames (src/gateway-contract.ts): the harness
        // peer reads one frame at a time, as the gateway would write them to the peer's TCP.
        data: (text) => {
          messages.push(text);
          for (const frame of splitFrames(text)) {
            fromEdge.push(frame);
            chain = chain.then(() => writer.write(encodeFrame(frame))).catch(() => {});
          }
        },
        closedByEdge: () => {
          closedByEdge();
          void chain.then(end);
        },
      });
      void (async () => {
        await pumpFrames(sock, (frames) => {
          if (!ended) ws.send(`${ch} ${frames.join("")}`);
        });
        if (!ended) {
          try {
            ws.send(JSON.stringify({ op: "close", ch }));
          } catch {
            // the link is gone
          }
          end();
        }
      })();
      return {
        ch,
        closed: closedP,
        fromEdge,
        messages,
        close: () => {
          if (ended) return;
          ws.send(JSON.stringify({ op: "close", ch }));
          end();
        },
      };
    },
  };
}

/** The RFC 7395 frames of a batched message (complete top-level elements, one after the other). */
export function splitFrames(text: string): string[] {
  const batch = parse(`<batch>${text}</batch>`) as Element;
  return batch.children.filter((c): c is Element => typeof c !== "string").map((c) => c.toString());
}
