// Setup file of the interop tier (issue 13): a test file's .interop/<run>/ folders (configs, logs and
// data of its Prosody, ejabberd, dnsmasq, gateway) are removed once the file has passed, after its
// own afterAll stopped the servers; when anything failed they stay for diagnosis.

import { rmSync } from "node:fs";
import { afterAll } from "vitest";
import { passed, type TaskLike } from "./run-outcome.js";

declare global {
  // Filled by scripts/interop/lib/topology.mjs for each run folder it creates.
  var __interopRunDirs: string[] | undefined;
}

// Vitest 4: the first argument is the fixture context (destructured, none used), the second the file.
// eslint-disable-next-line no-empty-pattern
afterAll(({}, file) => {
  const dirs = globalThis.__interopRunDirs ?? [];
  if (!passed(file as unknown as TaskLike)) {
    if (dirs.length) console.log(`interop: kept for diagnosis: ${dirs.join(", ")}`);
    return;
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
