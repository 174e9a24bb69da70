// One interop run: a private set of loopback addresses, a test CA, dnsmasq serving the test
// domains, and our own Prosody and ejabberd instances, all under .interop/<run>/ and all stopped
// by PID in `stop()`.
//
// Addresses: each run picks 127.A.B.0/24 at random so runs (and other checkouts) do not collide;
// .1 is DNS, .2 Prosody, .3 ejabberd, .4 the TCP gateway in front of the edge. Every server uses the
// standard ports (5222 c2s, 5269 s2s) on its own address, and SRV records say so too.

import { mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { ensureCa, issueCert, selfSignedCert } from "./ca.mjs";
import { startDns } from "./dns.mjs";
import { startEjabberd } from "./ejabberd.mjs";
import { startJabberd2 } from "./jabberd2.mjs";
import { startProsody } from "./prosody.mjs";

import { ROOT } from "./paths.mjs";

export { ROOT };

export const DOMAINS = {
  prosody: "prosody.test",
  /** A second Prosody host, for the policy-denied case. */
  prosodyDenied: "denied.test",
  ejabberd: "ejabberd.test",
  edge: "edge.test",
  /** A second Prosody's host (benchmarks: Prosody-to-Prosody baseline). */
  sink: "sink.test",
  /** Our jabberd2 2.7 instance's domain. */
  jabberd2: "jabberd2.test",
  /** A server farm's domain: two Prosody nodes originate for it, the edge is its authority (seed 004). */
  farm: "farm.test",
};

export const PASSWORD = "interop-password";

/**
 * Run directories (logs, configs, data) are kept for inspection (the interop tests' only when a test
 * failed); only the newest this many stay.
 */
const KEEP_RUNS = 30;

function pruneRuns(root, keep) {
  let runs;
  try {
    runs = readdirSync(root).map((name) => ({ path: join(root, name), mtime: statSync(join(root, name)).mtimeMs }));
  } catch {
    return;
  }
  runs.sort((a, b) => b.mtime - a.mtime);
  for (const r of runs.slice(keep)) rmSync(r.path, { recursive: true, force: true });
}

/** Picks the run's /24 inside 127/8 (avoiding 127.0.0.0/16, where the usual services live). */
export function pickNet() {
  const a = 100 + Math.floor(Math.random() * 100);
  const b = Math.floor(Math.random() * 256);
  return (host) => `127.${a}.${b}.${host}`;
}

/**
 * opts: { tls: boolean (peers require STARTTLS on s2s), bidi: boolean (Prosody loads mod_s2s_bidi),
 *         prosody = true, ejabberd = true, name = "run", edgeDirectTls = true (publish
 *         _xmpps-server._tcp for edge.test), logLevel, prosodyExtraHosts: string[] (more Prosody
 *         hosts, each with user@host), sink: boolean (a second Prosody hosting sink.test, bob@sink.test),
 *         sinkDirectTls: boolean (the sink also takes direct TLS s2s on 5270),
 *         extraRecords: { a, srv } (more DNS records, e.g. for a harness peer),
 *         addressOf: (name, address) => address | undefined (the A record to publish instead, e.g. a
 *         delay relay's address), jabberd2: boolean (our jabberd2 2.7 hosting jabberd2.test, user
 *         frank), jabberd2Tls: boolean (jabberd2 gets a certificate: STARTTLS), farm: boolean (two
 *         Prosody nodes hosting farm.test, users ann and ben, whose SRV is the gateway's, and a
 *         third with another secret, user eve),
 *         farmSecret: string (their dialback_secret), prosodySelfSigned: boolean (Prosody's certificate
 *         is self-signed, issue 12), prosodySecureAuth: boolean (s2s_secure_auth: XEP-0238 type 6), prosodyExtraModules, prosodyExtraGlobal (config lines for the first Prosody, or a
 *         function of the run's addresses `ip` returning them) }
 */
export async function startTopology(opts = {}) {
  const { tls = false, bidi = false } = opts;
  const net = pickNet();
  const ip = { dns: net(1), prosody: net(2), ejabberd: net(3), gateway: net(4), sink: net(5), jabberd2: net(6), farm1: net(7), farm2: net(8), farm3: net(9) };
  const extraHosts = opts.prosodyExtraHosts ?? [];
  const dir = join(ROOT, ".interop", `${opts.name ?? "run"}-${ip.dns.replace(/\./g, "-")}`);
  pruneRuns(join(ROOT, ".interop"), KEEP_RUNS);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // The interop tests remove their run's folder when every test of the file passed
  // (test/interop/run-dirs.ts); everyone else (demo, bench) keeps it.
  (globalThis.__interopRunDirs ??= []).push(dir);
  const started = [];
  const stop = async () => {
    for (const s of started.reverse()) await s.stop().catch(() => {});
  };
  try {
    const certDir = join(dir, "certs");
    const ca = await ensureCa(certDir);
    const certs = {
      prosody: opts.prosodySelfSigned
        ? await selfSignedCert(certDir, "prosody", [DOMAINS.prosody, DOMAINS.prosodyDenied, ...extraHosts])
        : await issueCert(certDir, "prosody", [DOMAINS.prosody, DOMAINS.prosodyDenied, ...extraHosts]),
      sink: await issueCert(certDir, "sink", [DOMAINS.sink]),
      ejabberd: await issueCert(certDir, "ejabberd", [DOMAINS.ejabberd]),
      edge: await issueCert(certDir, "edge", [DOMAINS.edge, DOMAINS.farm]),
      jabberd2: await issueCert(certDir, "jabberd2", [DOMAINS.jabberd2]),
    };
    const srv = (domain) => [
      [`_xmpp-server._tcp.${domain}`, domain, 5269],
    ];
    const dnsDir = join(dir, "dns");
    mkdirSync(dnsDir);
    const dns = await startDns({
      dir: dnsDir, ip: ip.dns,
      records: {
        a: [[DOMAINS.prosody, ip.prosody], [DOMAINS.prosodyDenied, ip.prosody], [DOMAINS.ejabberd, ip.ejabberd],
          [DOMAINS.edge, ip.gateway], [DOMAINS.sink, ip.sink], [DOMAINS.jabberd2, ip.jabberd2], [DOMAINS.farm, ip.gateway], ...extraHosts.map((h) => [h, ip.prosody]),
          ...(opts.extraRecords?.a ?? [])].map(([name, addr]) => [name, opts.addressOf?.(name, addr) ?? addr]),
        srv: [...srv(DOMAINS.prosody), ...srv(DOMAINS.prosodyDenied), ...srv(DOMAINS.ejabberd), ...srv(DOMAINS.edge),
          ...srv(DOMAINS.sink), ...srv(DOMAINS.jabberd2), ...srv(DOMAINS.farm), ...extraHosts.flatMap(srv), ...(opts.extraRecords?.srv ?? []),
          // XEP-0368: the gateway's direct TLS port, unless the run wants peers to use STARTTLS.
          ...(opts.edgeDirectTls === false ? [] : [[`_xmpps-server._tcp.${DOMAINS.edge}`, DOMAINS.edge, 5270]])],
      },
    });
    started.push(dns.proc);
    const topo = { dir, ip, ca, certs, dns, tls, bidi, stop, prosody: undefined, ejabberd: undefined, sink: undefined, jabberd2: undefined, farm: undefined, domains: DOMAINS };
    if (opts.prosody !== false) {
      const pdir = join(dir, "prosody");
      mkdirSync(pdir);
      topo.prosody = await startProsody({
        dir: pdir, ip: ip.prosody, c2sPort: 5222, s2sPort: 5269, tls, bidi,
        hosts: [DOMAINS.prosody, DOMAINS.prosodyDenied, ...extraHosts],
        users: { [`alice@${DOMAINS.prosody}`]: PASSWORD, [`bob@${DOMAINS.prosody}`]: PASSWORD, [`carol@${DOMAINS.prosodyDenied}`]: PASSWORD,
          ...Object.fromEntries(extraHosts.map((h) => [`user@${h}`, PASSWORD])) },
        cert: certs.prosody, resolvConf: dns.resolvConf, logLevel: opts.logLevel,
        extraModules: opts.prosodyExtraModules, secureAuth: !!opts.prosodySecureAuth,
        extraGlobal: typeof opts.prosodyExtraGlobal === "function" ? opts.prosodyExtraGlobal(ip) : opts.prosodyExtraGlobal,
      });
      started.push(topo.prosody);
    }
    if (opts.sink) {
      const sdir = join(dir, "sink");
      mkdirSync(sdir);
      topo.sink = await startProsody({
        dir: sdir, ip: ip.sink, c2sPort: 5222, s2sPort: 5269, tls, bidi, hosts: [DOMAINS.sink],
        ...(opts.sinkDirectTls ? { s2sDirectTlsPort: 5270 } : {}),
        users: { [`bob@${DOMAINS.sink}`]: PASSWORD }, cert: certs.sink, resolvConf: dns.resolvConf, logLevel: opts.logLevel,
      });
      started.push(topo.sink);
    }
    if (opts.ejabberd !== false) {
      const edir = join(dir, "ejabberd");
      mkdirSync(edir);
      topo.ejabberd = await startEjabberd({
        dir: edir, ip: ip.ejabberd, c2sPort: 5222, s2sPort: 5269, tls: tls ? "required" : false,
        hosts: [DOMAINS.ejabberd], cert: certs.ejabberd, resolvConf: dns.resolvConf, inetrc: dns.inetrc,
        logLevel: opts.logLevel,
      });
      started.push(topo.ejabberd);
      for (const u of ["dave", "erin"]) await topo.ejabberd.ctl("register", u, DOMAINS.ejabberd, PASSWORD);
    }
    if (opts.jabberd2) {
      // jabberd2 2.7: STARTTLS (and its certificate presented) only when it has a certificate.
      topo.jabberd2 = await startJabberd2({
        dir: join(dir, "jabberd2"), ip: ip.jabberd2, domain: DOMAINS.jabberd2, users: { frank: PASSWORD },
        ...(opts.jabberd2Tls ? { cert: certs.jabberd2 } : {}), resolvConf: dns.resolvConf,
      });
      started.push(topo.jabberd2);
    }
    if (opts.farm) {
      // Seed 004: farm.test's SRV points at the edge's gateway; two Prosody nodes originate for it
      // with the edge's DIALBACK_SECRET as their dialback_secret, so the edge can verify their keys.
      if (!opts.farmSecret) throw new Error("farm needs farmSecret (the edge's DIALBACK_SECRET)");
      topo.farm = [];
      // Node 3 is an impostor: it hosts farm.test too but has another secret, so its keys are wrong.
      for (const [n, user, secret] of [[1, "ann", opts.farmSecret], [2, "ben", opts.farmSecret], [3, "eve", `not-${opts.farmSecret}`]]) {
        const fdir = join(dir, `farm${n}`);
        mkdirSync(fdir);
        const node = await startProsody({
          dir: fdir, ip: ip[`farm${n}`], c2sPort: 5222, s2sPort: 5269, tls: false, hosts: [DOMAINS.farm],
          users: { [`${user}@${DOMAINS.farm}`]: PASSWORD }, resolvConf: dns.resolvConf, logLevel: opts.logLevel,
          extraGlobal: `dialback_secret = ${JSON.stringify(secret)}`,
        });
        started.push(node);
        topo.farm.push({ ...node, ip: ip[`farm${n}`], user: `${user}@${DOMAINS.farm}` });
      }
    }
    return topo;
  } catch (e) {
    await stop();
    throw e;
  }
}
