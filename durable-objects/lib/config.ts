// The edge configuration for this isolate, validated once per distinct env object. A bad setting is
// a ConfigError: worker/problem.ts logs it once per isolate and answers the public a generic 503.

import { loadConfig, type EdgeConfig } from "../../src/config.js";
import type { Env } from "../env.js";

const cache = new WeakMap<object, Promise<EdgeConfig>>();

export function edgeConfig(env: Env): Promise<EdgeConfig> {
  let p = cache.get(env);
  if (!p) {
    p = loadConfig(env as unknown as Record<string, unknown>);
    cache.set(env, p);
    p.catch(() => cache.delete(env));
  }
  return p;
}
