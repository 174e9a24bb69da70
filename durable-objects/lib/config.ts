// The edge configuration for this isolate, validated once per distinct env object. A bad setting is
// a ConfigError: worker/problem.ts logs it once per isolate and answers the public a generic 503.

import { loadConfig, type EdgeConfig } from "../../src/config.js";
import type { Env } from "../env.js";
import { DialbackKeys } from "../../src/dialback/keys.js";

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

const keysCache = new WeakMap<EdgeConfig, DialbackKeys>();

/**
 * The dialback keys for this configuration, imported once per isolate (src/dialback/keys.ts: "build
 * once per isolate"): a stream that built its own paid a SHA-256 and an importKey per secret, which
 * the 200-domain fan-out profile showed on every new stream (issue 11).
 */
export function dialbackKeys(config: EdgeConfig): DialbackKeys {
  let k = keysCache.get(config);
  if (!k) keysCache.set(config, (k = new DialbackKeys(config.secret, config.previousSecrets, config.keyFormulas)));
  return k;
}
