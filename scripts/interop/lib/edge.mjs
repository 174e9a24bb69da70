// The edge itself under `wrangler dev`, for interop runs: its own wrangler config copy, .dev.vars
// and persistence directory under the run's directory (so a developer's .dev.vars is never read),
// NODE_EXTRA_CA_CERTS pointing at the run's test CA (workerd's connect() then trusts the peers'
// certificates), and stopped by PID. The Worker is bundled once up front (`wrangler deploy --dry-run`)
// and served with no_bundle: wrangler dev would otherwise reload it, dropping every WebSocket,
// whenever a source file changes during a run.

import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "./ports.mjs";
import { run, startProcess } from "./proc.mjs";
import { ROOT } from "./paths.mjs";
import { wranglerDevtoolsEnv } from "../../lib/devtools.mjs";

/**
 * opts: { dir, vars: Record<string,string> (EDGE_DOMAINS, S2S_STATIC_ROUTES, ...), caFile, port?,
 *         resolvConf? (the run's resolv.conf: names resolve through its dnsmasq),
 *         devtools? (true: wrangler's DevTools inspector runs, for heap figures and profiles),
 *         inspectorPort?, logLevel? (wrangler's --log-level, default info) }
 * Returns { url, port, inspectorPort (wrangler's DevTools proxy to the Worker's isolate, with devtools
 * only), proc, stop(), vars }.
 */
export async function startEdge(opts) {
  // A port checked free can still be taken before wrangler binds it; try again with fresh ports
  // (only when the log says so: any other failure is reported at once).
  for (let attempt = 1; ; attempt++) {
    try {
      return await startEdgeOnce(opts);
    } catch (e) {
      const log = e.logFile ? readFileSync(e.logFile, "utf8") : "";
      if (attempt >= 3 || opts.port !== undefined || !/Address already in use|EADDRINUSE/.test(log)) throw e;
    }
  }
}

async function startEdgeOnce(opts) {
  const { dir, caFile } = opts;
  mkdirSync(dir, { recursive: true });
  const port = opts.port ?? (await freePort("127.0.0.1"));
  // wrangler dev's DevTools inspector only for a run that reads the isolate's heap or profile
  // (opts.devtools): otherwise it keeps every log line of the Worker (scripts/lib/devtools.mjs).
  // opts.inspectorPort asks wrangler for that port whatever `devtools` says (a test checks it stays shut).
  const inspector = opts.inspectorPort ?? (opts.devtools ? await freePort("127.0.0.1") : undefined);
  const source = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
  const bin = join(ROOT, "node_modules", ".bin");
  const env = wranglerDevtoolsEnv({
    ...process.env,
    PATH: `${bin}:${process.env.PATH}`,
    NODE_EXTRA_CA_CERTS: caFile,
    WRANGLER_SEND_METRICS: "false",
    // Loopback only: no Request.cf download from workers.cloudflare.com, no update check.
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    NO_UPDATE_NOTIFIER: "1",
    // wrangler dev's local tracing ("local observability", on by default) records every span (each
    // SQL exec, RPC, WebSocket event) into a SQLite trace store inside workerd: a per-event cost and
    // memory of the dev tool, not of the edge (production has no such thing unless [observability]
    // is configured). Off for interop runs; X_LOCAL_OBSERVABILITY=true in the environment keeps it.
    X_LOCAL_OBSERVABILITY: process.env.X_LOCAL_OBSERVABILITY ?? "false",
    CI: "1",
  }, opts.devtools === true);
  const buildToml = join(dir, "wrangler.build.toml");
  writeFileSync(buildToml, source.replace(/^main\s*=\s*"([^"]+)"/m, (_, m) => `main = ${JSON.stringify(join(ROOT, m))}`));
  await run(join(bin, "wrangler"), ["deploy", "--dry-run", "--outdir", join(dir, "dist"), "--config", buildToml], { env, cwd: ROOT });
  writeFileSync(join(dir, "wrangler.toml"), source.replace(/^main\s*=\s*"([^"]+)"/m, () => `main = ${JSON.stringify(join(dir, "dist", "index.js"))}\nno_bundle = true`));
  const vars = { EDGE_ENV: "development", ...opts.vars };
  writeFileSync(join(dir, ".dev.vars"), Object.entries(vars).map(([k, v]) => `${k}=${JSON.stringify(String(v))}`).join("\n") + "\n");
  // With `resolvConf`, workerd resolves names (S2S_STATIC_ROUTES hosts, SRV targets) through the run's
  // dnsmasq: it runs in a private mount namespace with that file bind-mounted over /etc/resolv.conf,
  // as ejabberd does. Then connect() checks the peer's certificate against the name it dialled.
  const wrap = opts.resolvConf
    ? ["unshare", ["-m", "--propagation", "private", "sh", "-c", `mount --bind "$1" /etc/resolv.conf && shift && exec "$@"`, "sh", opts.resolvConf, join(bin, "wrangler")]]
    : [join(bin, "wrangler"), []];
  const proc = startProcess(wrap[0], [...wrap[1],
    "dev", "--config", join(dir, "wrangler.toml"), "--ip", "127.0.0.1", "--port", String(port),
    ...(inspector ? ["--inspector-port", String(inspector)] : []), "--persist-to", join(dir, "state"), "--show-interactive-dev-session=false",
    "--log-level", opts.logLevel ?? "info",
  ], { logFile: join(dir, "wrangler.log"), cwd: ROOT, env });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (!proc.running) {
      throw Object.assign(new Error(`wrangler dev exited; see ${join(dir, "wrangler.log")}`), { logFile: join(dir, "wrangler.log") });
    }
    const ok = await fetch(url + "/").then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`wrangler dev did not answer on ${url}; see ${join(dir, "wrangler.log")}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return { url, port, inspectorPort: opts.devtools ? inspector : undefined, proc, vars, stop: () => proc.stop(10_000) };
}
