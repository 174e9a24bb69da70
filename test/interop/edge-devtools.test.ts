// The local edge runs `wrangler dev` without its DevTools inspector unless asked (EDGE_DEVTOOLS for
// `npm start`, `devtools` here; scripts/lib/devtools.mjs): the inspector, with nobody attached, keeps
// every log line of the Worker in wrangler's proxy. Checks, against the real wrangler, that the way we
// turn it off still works (nothing listens on the inspector port we asked for), that log lines still
// reach wrangler's output, and that `devtools: true` brings the inspector back (the heap benches need it).

import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startEdge } from "../../scripts/interop/lib/edge.mjs";
import { freePort } from "../../scripts/interop/lib/ports.mjs";
import { ROOT } from "../../scripts/interop/lib/paths.mjs";

type Edge = Awaited<ReturnType<typeof startEdge>>;
let edge: Edge | undefined;

afterEach(async () => {
  await edge?.stop();
  edge = undefined;
});

async function start(name: string, devtools: boolean, inspectorPort: number): Promise<{ edge: Edge; log: string }> {
  const dir = join(ROOT, ".interop", `devtools-${name}-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  (globalThis.__interopRunDirs ??= []).push(dir);
  const e = await startEdge({
    dir, caFile: "/etc/ssl/certs/ca-certificates.crt", devtools, inspectorPort, logLevel: "log",
    vars: { EDGE_DOMAINS: "edge.test", DIALBACK_SECRET: "d".repeat(64), ADMIN_TOKEN: "a".repeat(64) },
  });
  return { edge: e, log: join(dir, "wrangler.log") };
}

/** The inspector's target list, or the connection error's code. */
async function inspectorTargets(port: number): Promise<unknown> {
  return fetch(`http://127.0.0.1:${port}/json`, { signal: AbortSignal.timeout(5_000) }).then(
    (r) => r.json(),
    (e: Error & { cause?: { code?: string } }) => e.cause?.code ?? e.message,
  );
}

/** Opens a WebSocket S2S stream (XEP-0468) and waits for the edge's `stream.opened` line in `log`. */
async function streamOpenedLogged(url: string, log: string): Promise<string> {
  const ws = new WebSocket(`${url.replace(/^http/, "ws")}/xmpp-s2s`, "xmpp");
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  try {
    for (const deadline = Date.now() + 15_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
      const line = readFileSync(log, "utf8").split("\n").find((l) => l.includes('"event":"stream.opened"'));
      if (line) return line;
    }
    return "";
  } finally {
    ws.close();
  }
}

describe("wrangler dev's DevTools inspector for the local edge", () => {
  it("is off by default: nothing listens on the inspector port, and the Worker's log lines still print", async () => {
    const port = await freePort();
    const s = await start("off", false, port);
    edge = s.edge;
    expect(edge.inspectorPort).toBeUndefined();
    expect(await inspectorTargets(port)).toBe("ECONNREFUSED");
    expect(await streamOpenedLogged(edge.url, s.log)).toContain('"direction":"inbound"');
  }, 120_000);

  it("runs when asked for (devtools: true), with the Worker as a target", async () => {
    const port = await freePort();
    const s = await start("on", true, port);
    edge = s.edge;
    expect(edge.inspectorPort).toBe(port);
    const targets = (await inspectorTargets(port)) as Array<{ webSocketDebuggerUrl?: string }>;
    expect(Array.isArray(targets) && targets.some((t) => typeof t.webSocketDebuggerUrl === "string")).toBe(true);
  }, 120_000);
});
