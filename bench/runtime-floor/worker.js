// The smallest Durable Objects that stand for what the edge's StreamSession costs the runtime before
// any of our code runs (bench/runtime-floor.bench.ts): a DO that answers one request, the same with one
// SQLite row, one that accepts a hibernatable WebSocket, N hibernatable WebSockets all accepted by ONE
// DO (ManyWs: the DO's cost apart from the WebSocket's), and N streams multiplexed on ONE WebSocket to
// ONE DO that keeps ~8 KiB of state per stream (what a pair costs in the edge's JS heap, issue 11).
export class Plain {
  constructor(ctx) { this.ctx = ctx; }
  async fetch() { return new Response("ok"); }
}
export class Sql {
  constructor(ctx) { this.ctx = ctx; }
  async fetch() {
    this.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS t(k TEXT PRIMARY KEY, v BLOB)");
    this.ctx.storage.sql.exec("INSERT OR REPLACE INTO t VALUES(?, ?)", "snapshot", "x".repeat(600));
    return new Response("ok");
  }
}
export class Ws {
  constructor(ctx) { this.ctx = ctx; }
  async fetch() {
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1]);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }
  webSocketMessage() {}
  webSocketClose(ws) { try { ws.close(1000, "bye"); } catch {} }
}
export class ManyWs extends Ws {
  // Every upgrade of the "manyws" kind reaches this one object (the bench asks for id=one each time);
  // each socket is accepted with its own tag, as a DO holding several streams would tell them apart.
  async fetch(req) {
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1], [new URL(req.url).searchParams.get("tag") ?? "untagged"]);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }
}
export class Mux extends Ws {
  streams = new Map();
  webSocketMessage(_ws, msg) {
    // "open <id>": a new logical stream with ~8 KiB of state.
    const id = String(msg).slice(5);
    this.streams.set(id, { id, pairs: new Map([["a", "x".repeat(8000)]]) });
  }
}
export default {
  async fetch(req, env) {
    const u = new URL(req.url);
    const kind = u.pathname.slice(1);
    const ns = env[kind.toUpperCase()];
    if (!ns) return new Response("no such kind", { status: 404 });
    if (req.headers.get("upgrade") === "websocket") return ns.get(ns.idFromName(u.searchParams.get("id"))).fetch(req);
    const n = Number(u.searchParams.get("n")), off = Number(u.searchParams.get("off") ?? 0);
    await Promise.all(Array.from({ length: n }, (_, i) => ns.get(ns.idFromName(`${kind}${off + i}`)).fetch("http://do/")));
    return new Response("done");
  },
};
