// Issue 12.3b: TLS 1.3 NewSessionTicket messages after the handshake break jabberd2 2.7's TLS layer
// (it writes </stream:stream> in clear and reconnects ~78 times a second). The gateway runs with
// gateway/openssl.cnf (NumTickets = 0, `npm run gateway`), and reports at start what peers get
// (gateway/tls-tickets.ts). SSL_OP_NO_TICKET alone does not stop them in TLS 1.3.

import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");

/** Runs tls13TicketsSent in a fresh Node process started with `flags`; the gateway's TLS options. */
function ticketsWith(flags: string[], secureOptions = false): number {
  const script = `
    import { selfSignedFor } from "./gateway/dev-cert.ts";
    import { tls13TicketsSent } from "./gateway/tls-tickets.ts";
    import { constants } from "node:crypto";
    const pem = await selfSignedFor(["edge.test"]);
    const n = await tls13TicketsSent({ ...pem, requestCert: true, rejectUnauthorized: false${secureOptions ? ", secureOptions: constants.SSL_OP_NO_TICKET" : ""} });
    console.log(n);`;
  const out = execFileSync(process.execPath, [...flags, "--import", "tsx", "--input-type=module", "-e", script], { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: "" } });
  return Number(out.toString().trim().split("\n").at(-1));
}

describe("TLS 1.3 session tickets on the gateway (jabberd2 interop)", () => {
  it("Node's default TLS server sends them, even with SSL_OP_NO_TICKET (the check sees them)", () => {
    expect(ticketsWith([])).toBeGreaterThan(0);
    expect(ticketsWith([], true)).toBeGreaterThan(0);
  });

  it("with gateway/openssl.cnf, as `npm run gateway` starts it, none are sent", () => {
    expect(ticketsWith([`--openssl-config=${join(ROOT, "gateway", "openssl.cnf")}`])).toBe(0);
  });
});
