#!/usr/bin/env node
// Manual check: Prosody <-> edge through the gateway. `node scripts/interop/try-edge.mjs [--tls]`
import { C2sClient } from "./lib/c2s.mjs";
import { startStack } from "./lib/stack.mjs";
import { DOMAINS, PASSWORD } from "./lib/topology.mjs";

process.once("SIGINT", () => process.exit(130));
const tls = process.argv.includes("--tls");
const stack = await startStack({ tls, ejabberd: false, name: "try", logLevel: "debug" });
console.log("stack up", stack.dir, stack.edge.url);
try {
  const alice = await C2sClient.login({ host: stack.ip.prosody, port: 5222, jid: `alice@${DOMAINS.prosody}`, password: PASSWORD });
  alice.sendMessage(`app@${DOMAINS.edge}`, "hello edge");
  for (let i = 0; i < 40; i++) {
    const r = await stack.api("/api/v1/inbox?limit=10").then((r) => r.json());
    if (r.items?.length) { console.log("inbox:", JSON.stringify(r.items, null, 1)); break; }
    await new Promise((r) => setTimeout(r, 500));
  }
  const res = await stack.api("/api/v1/stanzas", { method: "POST", headers: { "content-type": "application/xml" },
    body: `<message xmlns='jabber:client' from='app@${DOMAINS.edge}' to='alice@${DOMAINS.prosody}' type='chat'><body>hello prosody</body></message>` });
  console.log("send:", res.status, await res.text());
  const m = await alice.waitForMessage("hello prosody", 20000).catch((e) => e.message);
  console.log("alice got:", String(m));
  if (process.argv.includes("--hold")) await new Promise((r) => setTimeout(r, 600000));
  await alice.close();
} finally {
  await stack.stop();
}
