#!/usr/bin/env node
// Proves the interop infrastructure: our Prosody and ejabberd federate with each other through our
// loopback DNS, with and without TLS. `node scripts/interop/sanity.mjs [--tls|--plain]`.

import { fileURLToPath } from "node:url";
import { C2sClient } from "./lib/c2s.mjs";
import { DOMAINS, PASSWORD, startTopology } from "./lib/topology.mjs";

/** Starts a topology, exchanges one message each way between Prosody and ejabberd users. */
export async function federationSanity({ tls }) {
  const topo = await startTopology({ tls, name: tls ? "sanity-tls" : "sanity-plain" });
  const clients = [];
  try {
    const alice = await C2sClient.login({ host: topo.ip.prosody, port: 5222, jid: `alice@${DOMAINS.prosody}`, password: PASSWORD });
    clients.push(alice);
    const dave = await C2sClient.login({ host: topo.ip.ejabberd, port: 5222, jid: `dave@${DOMAINS.ejabberd}`, password: PASSWORD });
    clients.push(dave);
    const t0 = performance.now();
    alice.sendMessage(`dave@${DOMAINS.ejabberd}`, "hello from prosody");
    const m1 = await dave.waitForMessage("hello from prosody");
    const t1 = performance.now();
    dave.sendMessage(`alice@${DOMAINS.prosody}`, "hello from ejabberd");
    const m2 = await alice.waitForMessage("hello from ejabberd");
    const t2 = performance.now();
    return { topo, m1, m2, ms: { prosodyToEjabberd: t1 - t0, ejabberdToProsody: t2 - t1 } };
  } finally {
    for (const c of clients) await c.close();
    await topo.stop();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const modes = process.argv.includes("--tls") ? [true] : process.argv.includes("--plain") ? [false] : [false, true];
  for (const tls of modes) {
    const r = await federationSanity({ tls });
    console.log(`${tls ? "TLS" : "plaintext"}: prosody->ejabberd ${r.ms.prosodyToEjabberd.toFixed(0)} ms, ` +
      `ejabberd->prosody ${r.ms.ejabberdToProsody.toFixed(0)} ms; logs in ${r.topo.dir}`);
  }
}
