// `npm run test:props -- --runs 100000`: the property-based tests alone (test/unit/*props.test.ts and
// test/workerd/admin-props.test.ts, which gets PROPS_RUNS/PROPS_SEED through the workerd globalSetup),
// with as many runs per property as asked (PROPS_RUNS) and no test timeout. `--seed N` replays a
// run; other arguments go to vitest.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const env = { ...process.env };
const rest = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  const m = /^--(runs|seed|path)(?:=(.*))?$/.exec(a);
  if (!m) {
    rest.push(a);
    continue;
  }
  const value = m[2] ?? args[++i];
  if (value === undefined || (m[1] !== "path" && !/^\d+$/.test(value))) {
    console.error(`test:props: --${m[1]} needs ${m[1] === "path" ? "a path" : "a number"}`);
    process.exit(2);
  }
  env[`PROPS_${m[1].toUpperCase()}`] = value;
}
env.PROPS_RUNS ??= "200";
console.log(`test:props: ${env.PROPS_RUNS} runs per property, seed ${env.PROPS_SEED ?? "20261202 (fixed)"}`);
const r = spawnSync(join(root, "node_modules", ".bin", "vitest"), ["run", "--project", "unit", "--project", "workerd", "--testTimeout=0", "props.test", ...rest], {
  cwd: root,
  env,
  stdio: "inherit",
});
process.exit(r.status ?? 1);
