// A throwaway test CA and leaf certificates for the test domains, made with openssl. Keys are
// readable by the peers' service users (prosody, ejabberd) because the files live in our own
// .interop/ directory, not in /etc.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "./proc.mjs";

/** Creates (once) ca.pem + ca.key in `dir`. Returns the CA certificate's path. */
export async function ensureCa(dir) {
  mkdirSync(dir, { recursive: true });
  const cert = join(dir, "ca.pem");
  const key = join(dir, "ca.key");
  if (!existsSync(cert)) {
    await run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
      "-days", "30", "-subj", "/CN=dialback-edge interop test CA",
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
  }
  return cert;
}

/**
 * Issues `<name>.pem` / `<name>.key` in `dir` for `domains` (SANs as DNS names and, per RFC 6120
 * §13.7.1.2, XmppAddr is optional, so DNS SANs are what Prosody and ejabberd check).
 * Also writes `<name>.full.pem` (cert + CA + key) for ejabberd's `certfiles`.
 */
export async function issueCert(dir, name, domains) {
  const ca = await ensureCa(dir);
  const caKey = join(dir, "ca.key");
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, [
    "basicConstraints=CA:FALSE",
    "keyUsage=digitalSignature,keyEncipherment",
    "extendedKeyUsage=serverAuth,clientAuth",
    `subjectAltName=${domains.map((d) => `DNS:${d}`).join(",")}`,
  ].join("\n") + "\n");
  await run("openssl", ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", `/CN=${domains[0]}`]);
  await run("openssl", ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", caKey, "-CAcreateserial", "-out", cert,
    "-days", "30", "-extfile", ext]);
  const full = join(dir, `${name}.full.pem`);
  writeFileSync(full, readFileSync(cert, "utf8") + readFileSync(ca, "utf8") + readFileSync(key, "utf8"));
  return { cert, key, full, ca };
}

/**
 * A self-signed certificate `<name>-self.pem` / `.key` for `domains` (issue 12: a peer whose
 * certificate chains to nothing, as many small servers have). `ca` is the run's CA all the same (the
 * server still verifies others with it).
 */
export async function selfSignedCert(dir, name, domains) {
  const ca = await ensureCa(dir);
  const cert = join(dir, `${name}-self.pem`);
  const key = join(dir, `${name}-self.key`);
  await run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "30",
    "-subj", `/CN=${domains[0]}`, "-addext", `subjectAltName=${domains.map((d) => `DNS:${d}`).join(",")}`,
    "-addext", "basicConstraints=critical,CA:FALSE", "-addext", "extendedKeyUsage=serverAuth,clientAuth"]);
  return { cert, key, full: cert, ca };
}
