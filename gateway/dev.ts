// `npm start` runs this next to `wrangler dev`: the gateway with a self-signed certificate for the
// hosted domains, generated on first use into .wrangler/gateway-dev/ (development only; production
// passes the domain's real certificate in GATEWAY_CERT / GATEWAY_KEY, see gateway/README.md).

import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import { selfSignedFor } from "./dev-cert.js";

const dir = join(process.cwd(), ".wrangler", "gateway-dev");
const domains = (process.env.GATEWAY_DOMAINS ?? process.env.EDGE_DOMAINS ?? "localhost").split(",").map((d) => d.trim()).filter(Boolean);
const certPath = join(dir, "cert.pem");
const keyPath = join(dir, "key.pem");

/** Reuses the pair while it is valid for more than a day and names exactly these domains. */
function usable(): boolean {
  if (!existsSync(certPath) || !existsSync(keyPath)) return false;
  const cert = new X509Certificate(readFileSync(certPath));
  const names = (cert.subjectAltName ?? "").split(/,\s*/).map((s) => s.replace(/^DNS:/, "")).sort().join(",");
  return names === [...domains].sort().join(",") && new Date(cert.validTo).getTime() > Date.now() + 86_400_000;
}

if (!process.env.GATEWAY_CERT) {
  if (!usable()) {
    mkdirSync(dir, { recursive: true });
    const pem = await selfSignedFor(domains);
    writeFileSync(certPath, pem.cert);
    writeFileSync(keyPath, pem.key, { mode: 0o600 });
    console.log(JSON.stringify({ ts: new Date().toISOString(), level: "info", msg: "generated a self-signed development certificate", domains, cert: certPath }));
  }
  process.env.GATEWAY_CERT = certPath;
  process.env.GATEWAY_KEY = keyPath;
}

await import("./main.js");
