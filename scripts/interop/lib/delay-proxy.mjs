// A TCP relay that adds a one-way delay in each direction, for round-trip benchmarks between servers
// on loopback. Stands in for `tc qdisc netem`, which this machine's kernel lacks (no sch_netem).
//
// Timing on the server's side of the relay is what a real link with that one-way delay gives:
// - the relay accepts at once, so the client's connect() completes immediately, but the client's
//   first bytes reach the server no earlier than 3 one-way delays after the accept (SYN, SYN-ACK,
//   then the data: the TCP handshake's round trip before the first write of a real connection);
// - every later chunk reaches the other side `oneWayMs` after the relay read it, in order;
// - the relay opens its connection to the server `oneWayMs` after the accept (the SYN's flight), from
//   its own address, so the server sees one peer address per relay (one real host).
// A close travels with the same delay.

import { connect, createServer } from "node:net";

/** A FIFO of chunks written to `socket` at their due times, in order. */
function delayedPipe(socket) {
  const queue = [];
  let timer = null;
  const drain = () => {
    timer = null;
    const now = performance.now();
    while (queue.length && queue[0].at <= now + 0.5) {
      const { chunk } = queue.shift();
      if (chunk === null) socket.end();
      else socket.write(chunk);
    }
    if (queue.length) timer = setTimeout(drain, queue[0].at - now);
  };
  return (chunk, at) => {
    queue.push({ chunk, at: Math.max(at, queue.at(-1)?.at ?? 0) });
    if (!timer) timer = setTimeout(drain, Math.max(0, queue[0].at - performance.now()));
  };
}

/**
 * opts: { host, port (listen), target: { host, port }, oneWayMs }.
 * Returns { host, port, connections (count accepted), close() }.
 */
export async function startDelayProxy({ host, port, target, oneWayMs }) {
  const sockets = new Set();
  const proxy = { host, port, connections: 0, close: undefined };
  const server = createServer({ noDelay: true }, (client) => {
    proxy.connections++;
    const accepted = performance.now();
    const firstDataAt = accepted + 3 * oneWayMs;
    sockets.add(client);
    client.setNoDelay(true);
    let upstream = null;
    const toServer = [];
    let sendToServer = (chunk, at) => toServer.push([chunk, at]);
    const sendToClient = delayedPipe(client);
    client.on("data", (d) => sendToServer(d, Math.max(performance.now() + oneWayMs, firstDataAt)));
    client.on("end", () => sendToServer(null, Math.max(performance.now() + oneWayMs, firstDataAt)));
    client.on("error", () => upstream?.destroy());
    client.on("close", () => {
      sockets.delete(client);
      setTimeout(() => upstream?.destroy(), oneWayMs + 5);
    });
    setTimeout(() => {
      if (client.destroyed) return;
      upstream = connect({ host: target.host, port: target.port, localAddress: host, noDelay: true });
      sockets.add(upstream);
      const pipe = delayedPipe(upstream);
      for (const [c, at] of toServer) pipe(c, at);
      sendToServer = pipe;
      upstream.on("data", (d) => sendToClient(d, performance.now() + oneWayMs));
      upstream.on("end", () => sendToClient(null, performance.now() + oneWayMs));
      upstream.on("error", () => setTimeout(() => client.destroy(), oneWayMs));
      upstream.on("close", () => sockets.delete(upstream));
    }, oneWayMs);
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port, backlog: 4096 }, resolve);
  });
  proxy.close = () => new Promise((resolve) => {
    for (const s of sockets) s.destroy();
    server.close(() => resolve());
  });
  return proxy;
}
