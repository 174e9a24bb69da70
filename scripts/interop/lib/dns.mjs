// dnsmasq on a loopback address serving only the test domains' A and SRV records and forwarding
// nothing (--no-resolv, no servers), so no query leaves the machine.

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startProcess } from "./proc.mjs";

/**
 * records: { a: [[name, ip]], srv: [[service, target, port]] } where service is e.g.
 * "_xmpp-server._tcp.edge.test". Writes `resolv.conf` (pointing at the server) and `inetrc` (the
 * same for Erlang's resolver) into `dir`.
 */
export async function startDns({ dir, ip, port = 53, records }) {
  const conf = join(dir, "dnsmasq.conf");
  const lines = [
    "no-resolv", "no-hosts", "no-poll", "bind-interfaces", `listen-address=${ip}`, `port=${port}`,
    "user=root", "group=root", "pid-file=",
    // Answer for .test ourselves and never forward anything.
    "local=/test/", "log-queries",
  ];
  for (const [name, addr] of records.a) lines.push(`host-record=${name},${addr}`);
  for (const [service, target, p] of records.srv) lines.push(`srv-host=${service},${target},${p},0,0`);
  writeFileSync(conf, lines.join("\n") + "\n");
  const resolvConf = join(dir, "resolv.conf");
  writeFileSync(resolvConf, `nameserver ${ip}\noptions attempts:1 timeout:1\n`);
  const inetrc = join(dir, "inetrc");
  writeFileSync(inetrc, `{nameserver, {${ip.split(".").join(",")}}, ${port}}.\n{lookup, [file, dns]}.\n{edns, 0}.\n` +
    `{host, {127,0,0,1}, ["localhost"]}.\n`);
  const proc = startProcess("dnsmasq", ["--keep-in-foreground", "--conf-file=" + conf, "--log-facility=-"],
    { logFile: join(dir, "dnsmasq.log") });
  // Wait until it answers (UDP: probe with a real query).
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (!proc.running) throw new Error(`dnsmasq exited; see ${join(dir, "dnsmasq.log")}`);
    const ok = await lookup(ip, port, records.a[0]?.[0] ?? "x.test").then(() => true, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error("dnsmasq did not answer");
    await new Promise((r) => setTimeout(r, 100));
  }
  return { proc, resolvConf, inetrc, ip, port };
}

/** A one-shot A query through our server, with Node's resolver (not libc). */
export async function lookup(ip, port, name) {
  const { Resolver } = await import("node:dns/promises");
  const r = new Resolver({ timeout: 500, tries: 1 });
  r.setServers([`${ip}:${port}`]);
  return r.resolve4(name);
}
