// Development certificates: a self-signed certificate for the hosted domains, so `npm start` can run
// the gateway without any setup. Production uses the domain's real certificate (GATEWAY_CERT/KEY).

import { generate } from "selfsigned";

export interface Pem {
  cert: string;
  key: string;
}

/** A self-signed certificate (EC P-256, SHA-256) whose DNS SANs are `domains`, valid 30 days. */
export async function selfSignedFor(domains: string[], ca?: Pem): Promise<Pem> {
  const now = new Date();
  const pems = await generate([{ name: "commonName", value: domains[0] ?? "localhost" }], {
    keyType: "ec",
    curve: "P-256",
    algorithm: "sha256",
    notBeforeDate: new Date(now.getTime() - 60_000),
    notAfterDate: new Date(now.getTime() + 30 * 86_400_000),
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
      { name: "extKeyUsage", serverAuth: true, clientAuth: true },
      { name: "subjectAltName", altNames: domains.map((value) => ({ type: 2 as const, value })) },
    ],
    ...(ca ? { ca } : {}),
  });
  return { cert: pems.cert, key: pems.private };
}

/** A throwaway CA (tests: client certificates the gateway must verify). */
export async function testCa(name = "gateway test CA"): Promise<Pem> {
  const pems = await generate([{ name: "commonName", value: name }], {
    keyType: "ec",
    curve: "P-256",
    algorithm: "sha256",
    extensions: [
      { name: "basicConstraints", cA: true, critical: true },
      { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}
