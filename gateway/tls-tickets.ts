// How many TLS 1.3 session tickets this process's TLS server sends after a handshake (RFC 8446
// §4.6.1 NewSessionTicket). The gateway wants 0: jabberd2 2.7 breaks on these post-handshake
// messages (it writes </stream:stream> in clear and reconnects ~78 times a second; issue 12), and S2S
// gains nothing from resumption. Node cannot set SSL_CTX_set_num_tickets; OpenSSL's configuration can
// (gateway/openssl.cnf, NumTickets = 0, loaded with node --openssl-config). This check does one
// handshake with itself on loopback, so the log says what peers actually get, however the process
// was started.

import { once } from "node:events";
import { connect, createServer, type TlsOptions } from "node:tls";

/**
 * Tickets a TLS 1.3 client receives from a server built with `options`: 0 when none came within
 * `waitMs`; it returns as soon as one arrives (so it is a lower bound, and quick when tickets are on).
 */
export async function tls13TicketsSent(options: TlsOptions, waitMs = 200): Promise<number> {
  const server = createServer({ ...options, handshakeTimeout: 5000 }, (s) => s.on("error", () => {}));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  let tickets = 0;
  try {
    const client = connect({ host: "127.0.0.1", port, rejectUnauthorized: false, minVersion: "TLSv1.3", maxVersion: "TLSv1.3" });
    let first: () => void = () => {};
    const arrived = new Promise<void>((r) => (first = r));
    client.on("session", () => {
      tickets++;
      first();
    });
    client.on("error", () => {});
    await once(client, "secureConnect");
    // NewSessionTicket follows the server's reading of our Finished: give it a moment to arrive.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([arrived, new Promise((r) => (timer = setTimeout(r, waitMs)))]);
    clearTimeout(timer);
    client.destroy();
  } finally {
    server.close();
  }
  return tickets;
}
