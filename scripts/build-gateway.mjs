// Builds the TCP ingress gateway into one JavaScript file: `npm run gateway:build` writes
// gateway/dist/main.js (and gateway/dist/openssl.cnf, to run it with --openssl-config). Everything it imports (src/, ws, ltx) is bundled, so running it needs Node
// (>= 22.12) and nothing else: no tsx, no node_modules (gateway/README.md "Install without dev
// dependencies"). `ws` loads its optional native helpers (bufferutil, utf-8-validate) only if present.
import { build } from "esbuild";
import { copyFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join, resolve } from "node:path";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Bundles gateway/main.ts into `<outdir>/main.js` (ESM, Node 22) and returns its path. */
export async function buildGateway(outdir = join(ROOT, "gateway", "dist")) {
  const outfile = join(outdir, "main.js");
  await build({
    entryPoints: [join(ROOT, "gateway", "main.ts")],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node22",
    sourcemap: "linked",
    legalComments: "linked",
    external: ["bufferutil", "utf-8-validate"],
    // ws is CommonJS: its require() calls need a real require in an ES module.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    logLevel: "warning",
  });
  // Run it with `node --openssl-config=openssl.cnf main.js`: no TLS 1.3 session tickets (they break
  // jabberd2 2.7; gateway/openssl.cnf, gateway/tls-tickets.ts).
  copyFileSync(join(ROOT, "gateway", "openssl.cnf"), join(outdir, "openssl.cnf"));
  return outfile;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = await buildGateway(process.argv[2] ? resolve(process.argv[2]) : undefined);
  console.log(`gateway built: ${out}\nrun: node --openssl-config=${join(dirname(out), "openssl.cnf")} ${out}  (configuration: gateway/README.md)`);
}
