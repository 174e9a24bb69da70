// The gateway as an operator runs it: built to one JavaScript file (`npm run gateway:build`), run
// with plain `node` from a directory holding that file alone (no node_modules anywhere above it, so
// no tsx, no dev dependency and no production one either), and its certificate renewed in place
// with SIGHUP: handshakes after the signal get the new certificate, a stream opened before it goes
// on working, and a broken renewal (key of another certificate) is refused with the old one kept.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { selfSignedFor } from "../../gateway/dev-cert.js";
import { buildGateway } from "../../scripts/build-gateway.mjs";
import { FakeEdge, FRAMING, header, Peer, TOKEN, until } from "./gateway-fixtures.js";

type LogLine = { msg: string; [k: string]: unknown };

class Running {
  lines: LogLine[] = [];
  stderr = "";
  exit: number | null | undefined;
  constructor(readonly child: ChildProcessWithoutNullStreams) {
    let buf = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      buf += d;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          this.lines.push(JSON.parse(line) as LogLine);
        } catch {
          this.lines.push({ msg: `non-JSON stdout: ${line}` });
        }
      }
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => (this.stderr += d));
    child.on("exit", (code) => (this.exit = code));
  }
  async line(msg: string, nth = 1): Promise<LogLine> {
    const found = () => this.lines.filter((l) => l.msg === msg);
    await until(() => found().length >= nth || this.exit !== undefined, `log line '${msg}' #${nth}`, 20_000);
    if (found().length < nth) throw new Error(`gateway exited (${this.exit}) before '${msg}': ${this.stderr}${JSON.stringify(this.lines)}`);
    return found()[nth - 1]!;
  }
}

const fingerprint = (s: TLSSocket) => new X509Certificate(s.getPeerX509Certificate()!.raw).fingerprint256;
const pemFingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;

describe("the built gateway (gateway/dist/main.js) under plain node", () => {
  let dir: string;
  let edge: FakeEdge;
  let gw: Running;
  let port: number;
  const certs: { first?: { cert: string; key: string }; second?: { cert: string; key: string } } = {};

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "gateway-dist-"));
    for (let d = dir; d !== dirname(d); d = dirname(d)) {
      // A node_modules above the run directory would let a missing dependency resolve by accident.
      expect(existsSync(join(dirname(d), "node_modules")), `${dirname(d)}/node_modules exists`).toBe(false);
    }
    const built = await buildGateway(join(dir, "build"));
    const run = join(dir, "run");
    mkdirSync(run);
    copyFileSync(built, join(run, "main.js"));
    copyFileSync(join(dirname(built), "openssl.cnf"), join(run, "openssl.cnf"));

    certs.first = await selfSignedFor(["edge.test"]);
    certs.second = await selfSignedFor(["edge.test", "renewed.edge.test"]);
    writeFileSync(join(dir, "cert.pem"), certs.first.cert);
    writeFileSync(join(dir, "key.pem"), certs.first.key);
    edge = await new FakeEdge().start();

    const child = spawn(process.execPath, ["--openssl-config=openssl.cnf", "main.js"], {
      cwd: run,
      env: {
        PATH: process.env.PATH ?? "",
        GATEWAY_HOST: "127.0.0.1",
        GATEWAY_STARTTLS_PORT: "off",
        GATEWAY_DIRECT_TLS_PORT: "0",
        GATEWAY_EDGE_URL: edge.url,
        GATEWAY_TOKEN: TOKEN,
        GATEWAY_DOMAINS: "edge.test",
        GATEWAY_CERT: join(dir, "cert.pem"),
        GATEWAY_KEY: join(dir, "key.pem"),
        GATEWAY_SHUTDOWN_GRACE_MS: "300",
        // FakeEdge speaks the one-stream link.
        GATEWAY_MUX: "off",
      },
    });
    gw = new Running(child);
    const listening = await gw.line("listening");
    port = listening.directTls as number;
    // Issue 12.3b: the bundle ships openssl.cnf; run with it, peers get no TLS 1.3 session tickets.
    expect(listening.tls13Tickets).toBe(0);
  }, 60_000);

  afterAll(async () => {
    if (gw?.exit === undefined) gw?.child.kill("SIGKILL");
    await edge?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("serves TLS with the configured certificate, and SIGHUP swaps it for new handshakes while an open stream goes on", async () => {
    const old = await Peer.directTls(port);
    expect(fingerprint(old.socket as TLSSocket)).toBe(pemFingerprint(certs.first!.cert));
    old.write(header());
    const s = await edge.session(0);
    await edge.frame(s, /^<open /);

    // Renewal: the files are replaced in place, then SIGHUP (what certbot's deploy hook does).
    writeFileSync(join(dir, "cert.pem"), certs.second!.cert);
    writeFileSync(join(dir, "key.pem"), certs.second!.key);
    gw.child.kill("SIGHUP");
    const reloaded = await gw.line("certificate reloaded");
    expect(reloaded.fingerprint256).toBe(pemFingerprint(certs.second!.cert));
    expect(reloaded.connections).toBe(1);

    const fresh = await Peer.directTls(port);
    expect(fingerprint(fresh.socket as TLSSocket)).toBe(pemFingerprint(certs.second!.cert));

    // The stream opened before the reload still carries traffic both ways.
    expect(old.closed).toBe(false);
    s.ws.send(`<open xmlns='${FRAMING}' from='edge.test' to='peer.test' id='s1' version='1.0'/>`);
    await old.wait(/<stream:stream [^>]*id='s1'/);
    old.write("<message from='a@peer.test' to='b@edge.test'><body>after reload</body></message>");
    expect(await edge.frame(s, /after reload/)).toContain("<body>after reload</body>");
    expect(s.closed).toBe(false);
    old.socket.destroy();
    fresh.socket.destroy();
  }, 60_000);

  it("a renewal whose key is not the certificate's is refused and the previous certificate stays", async () => {
    writeFileSync(join(dir, "key.pem"), certs.first!.key); // cert.pem is still the second certificate
    gw.child.kill("SIGHUP");
    const failed = await gw.line("certificate reload failed; the previous certificate stays in use");
    expect(String(failed.error)).toMatch(/key/i);
    const peer = await Peer.directTls(port);
    expect(fingerprint(peer.socket as TLSSocket)).toBe(pemFingerprint(certs.second!.cert));
    peer.socket.destroy();
    expect(gw.exit).toBeUndefined();
  }, 60_000);

  it("stops on SIGTERM with exit code 0", async () => {
    gw.child.kill("SIGTERM");
    await until(() => gw.exit !== undefined, "the gateway to exit", 20_000);
    expect(gw.exit).toBe(0);
    expect(gw.stderr).toBe("");
  }, 30_000);
});
