// Free TCP ports on a loopback address.
//
// Ports are drawn at random from below the kernel's ephemeral range (Linux: 32768-60999), then
// checked by binding. A port the kernel hands out for `listen(0)` is in the ephemeral range, where any
// process's outgoing connection or `listen(0)` (workerd, wrangler, Prosody) can take it between our
// check and wrangler's bind; that race made an interop run fail with EADDRINUSE. Below the range only
// an explicit bind can collide.
import { createServer } from "node:net";

const LOW = 20000;
const HIGH = 32767;

function tryBind(port, host) {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

export async function freePort(host = "127.0.0.1") {
  for (let i = 0; i < 200; i++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW + 1));
    if (await tryBind(port, host)) return port;
  }
  throw new Error(`no free TCP port on ${host} in ${LOW}-${HIGH}`);
}
