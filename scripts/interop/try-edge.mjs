#!/usr/bin/env node
// `npm run demo` (or `node scripts/interop/try-edge.mjs [--tls] [--hold]`): a message crosses
// federation both ways between a real Prosody and the edge. It brings up, on a private 127.A.B.0/24
// of its own (beside `npm start`, which it does not touch): dnsmasq serving the test domains' SRV
// records, Prosody hosting prosody.test (user alice), the edge (wrangler dev) hosting edge.test, and
// the TCP gateway in front of the edge. Then alice sends to app@edge.test over Prosody's S2S to the
// gateway (SRV -> gateway -> WebSocket -> edge, dialback), the application reads it from
// /api/v1/inbox, answers with POST /api/v1/stanzas (edge -> Prosody over TCP), and alice receives it.
// Needs root (dnsmasq on :53, a private mount namespace for the edge's resolver) and Debian's
// prosody, dnsmasq-base, lua-unbound and openssl. --tls: peers require STARTTLS. --hold: keep the
// stack up 10 minutes for a look (logs under .interop/try-*/). Exit status 0 only if both arrived.
import { execFileSync } from "node:child_process";
import { C2sClient } from "./lib/c2s.mjs";
import { startStack } from "./lib/stack.mjs";
import { DOMAINS, PASSWORD } from "./lib/topology.mjs";

function preflight() {
  const missing = [];
  if (process.getuid?.() !== 0) missing.push("root (dnsmasq binds port 53; the edge runs in a private mount namespace)");
  for (const [bin, pkg] of [["prosody", "prosody"], ["dnsmasq", "dnsmasq-base"], ["openssl", "openssl"], ["unshare", "util-linux"]]) {
    try {
      execFileSync("sh", ["-c", `command -v ${bin}`], { stdio: "ignore" });
    } catch {
      missing.push(`${bin} (apt-get install ${pkg})`);
    }
  }
  if (missing.length) {
    console.error(`npm run demo needs:\n  - ${missing.join("\n  - ")}\n(.ci/run installs the packages; see README "Tests and benchmarks").`);
    process.exit(2);
  }
}

preflight();
process.once("SIGINT", () => process.exit(130));
const tls = process.argv.includes("--tls");
const step = (s) => console.log(`\n== ${s}`);
step(`starting dnsmasq, Prosody (${DOMAINS.prosody}), the edge (${DOMAINS.edge}) and its gateway${tls ? " (STARTTLS required)" : ""}`);
const stack = await startStack({ tls, ejabberd: false, name: "try", logLevel: "debug" });
console.log(`run directory (configs, logs): ${stack.dir}\nedge: ${stack.edge.url}   gateway: ${stack.ip.gateway}:5269`);
let ok = false;
try {
  const alice = await C2sClient.login({ host: stack.ip.prosody, port: 5222, jid: `alice@${DOMAINS.prosody}`, password: PASSWORD });
  step(`alice@${DOMAINS.prosody} -> app@${DOMAINS.edge}: Prosody looks up _xmpp-server._tcp.${DOMAINS.edge}, dials the gateway, dialback with the edge`);
  alice.sendMessage(`app@${DOMAINS.edge}`, "hello edge");
  let inbound;
  for (let i = 0; i < 40 && !inbound; i++) {
    const r = await stack.api("/api/v1/inbox?limit=10").then((r) => r.json());
    inbound = r.items?.find((m) => String(m.xml ?? JSON.stringify(m)).includes("hello edge"));
    if (!inbound) await new Promise((r) => setTimeout(r, 500));
  }
  console.log(inbound ? `the edge delivered it; GET /api/v1/inbox:\n${JSON.stringify(inbound, null, 1)}` : "NOT received by the edge within 20 s");

  step(`app@${DOMAINS.edge} -> alice@${DOMAINS.prosody}: POST /api/v1/stanzas, the edge dials Prosody over TCP`);
  const res = await stack.api("/api/v1/stanzas", {
    method: "POST",
    headers: { "content-type": "application/xml" },
    body: `<message xmlns='jabber:client' from='app@${DOMAINS.edge}' to='alice@${DOMAINS.prosody}' type='chat'><body>hello prosody</body></message>`,
  });
  console.log(`POST /api/v1/stanzas: ${res.status} ${await res.text()}`);
  const got = await alice.waitForMessage("hello prosody", 20000).then(() => true, () => false);
  console.log(got ? "alice received 'hello prosody'" : "alice did NOT receive the answer within 20 s");
  ok = Boolean(inbound) && got;
  step(ok ? "federation works both ways" : `failed: see the logs in ${stack.dir}`);
  if (process.argv.includes("--hold")) await new Promise((r) => setTimeout(r, 600000));
  await alice.close();
} finally {
  await stack.stop();
}
process.exit(ok ? 0 : 1);
