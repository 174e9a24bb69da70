// The edge configuration for this isolate, validated once per distinct env object. A bad setting is
// logged once per isolate with the variable and the problem (issue 13): the public only ever sees a
// generic 503 (worker/problem.ts), and the operator finds the exact error in the Worker's logs.

import { ConfigError, loadConfig, type EdgeConfig } from "../../src/config.js";
import type { Env } from "../env.js";

const cache = new WeakMap<object, Promise<EdgeConfig>>();
const logged = new Set<string>();

export function edgeConfig(env: Env): Promise<EdgeConfig> {
  let p = cache.get(env);
  if (!p) {
    p = loadConfig(env as unknown as Record<string, unknown>);
    cache.set(env, p);
    p.catch((e: unknown) => {
      cache.delete(env);
      logConfigError(e);
    });
  }
  return p;
}

/** One structured line per distinct configuration error and isolate. */
function logConfigError(e: unknown): void {
  if (!(e instanceof ConfigError) || logged.has(e.message)) return;
  logged.add(e.message);
  console.error(JSON.stringify({ level: "error", event: "config.error", variable: e.variable, problem: e.problem }));
}
