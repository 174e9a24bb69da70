#!/usr/bin/env node
// `npm run deploy`: checks the configuration the deployed Worker will get, then runs `wrangler deploy`.
// The check is the Worker's own schema (src/config.ts) over wrangler.toml's [vars] and the names of
// the Worker's secrets (`wrangler secret list`: their values cannot be read, so a secret that is set
// counts as a valid one). A bad or missing setting stops here with the error naming the variable,
// instead of a deployed edge answering every request 503 (issue 13). Arguments go to wrangler deploy.
// Runs under tsx (`node --import tsx scripts/deploy.mjs`, as `npm run deploy` does).

import { spawn, spawnSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { SECRET_VARIABLES } from "../src/config.ts";
import { checkConfig, readWranglerConfig } from "./lib/config-check.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const wrangler = join(root, "node_modules", ".bin", "wrangler");

/** A value that passes every secret's check: it stands for a secret whose value we cannot see. */
const SET_SECRET = "set-secret-value-not-readable-0123456789";

/**
 * The check: `listSecrets()` resolves with the names of the Worker's secrets ([] for a Worker not
 * deployed yet). Resolves with the lines to print; `ok` false when the deployment must not go ahead.
 */
export async function deployCheck({ configPath, listSecrets }) {
  const toml = await readWranglerConfig(configPath);
  const secrets = await listSecrets();
  const values = { ...toml.vars };
  for (const name of secrets) values[name] = SET_SECRET;
  const bad = await checkConfig(values, toml);
  const lines = [];
  if (bad) {
    lines.push(`npm run deploy: configuration error: ${bad.message}`);
    const how = SECRET_VARIABLES.includes(bad.variable)
      ? `set it with: npx wrangler secret put ${bad.variable}`
      : `set it in wrangler.toml [vars] (or as a secret: npx wrangler secret put ${bad.variable})`;
    lines.push(`Nothing was deployed. ${how}. README "Configuration" lists every variable.`);
    if (toml.keepVars) lines.push("(keep_vars is on: variables set only in the dashboard are not visible to this check.)");
    return { ok: false, lines, variable: bad.variable };
  }
  lines.push(`Configuration checked: [vars] ${Object.keys(toml.vars).join(", ") || "(none)"}; secrets ${secrets.join(", ") || "(none)"}.`);
  return { ok: true, lines };
}

/** `wrangler secret list` for this Worker: the names, [] when the Worker does not exist yet. */
function wranglerSecretNames(args) {
  const r = spawnSync(wrangler, ["secret", "list", "--format", "json", ...args], { cwd: root, encoding: "utf8" });
  if (r.status === 0) return JSON.parse(r.stdout).map((s) => s.name);
  const out = `${r.stdout}\n${r.stderr}`;
  if (/not found|does not exist/i.test(out)) return [];
  throw new Error(`wrangler secret list failed (logged in? npx wrangler login):\n${out.trim()}`);
}

function configArg(argv) {
  const i = argv.findIndex((a) => a === "--config" || a === "-c");
  if (i >= 0 && argv[i + 1]) return resolve(argv[i + 1]);
  const eq = argv.find((a) => a.startsWith("--config="));
  return eq ? resolve(eq.slice("--config=".length)) : join(root, "wrangler.toml");
}

async function main() {
  const argv = process.argv.slice(2);
  // --name / --env / --config select the Worker whose secrets count.
  const pass = argv.filter((a, i) => /^--(name|env|config)(=|$)|^-[ec]$/.test(a) || /^--(name|env|config)$|^-[ec]$/.test(argv[i - 1] ?? ""));
  const result = await deployCheck({ configPath: configArg(argv), listSecrets: async () => wranglerSecretNames(pass) });
  for (const line of result.lines) (result.ok ? console.log : console.error)(line);
  if (!result.ok) process.exit(1);
  const child = spawn(wrangler, ["deploy", ...argv], { stdio: "inherit", cwd: root });
  child.on("exit", (code) => process.exit(code ?? 1));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
