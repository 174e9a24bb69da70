// The configuration check `npm start` and `npm run deploy` run before wrangler: the Worker's own
// schema (src/config.ts, so the same rules and messages as at run time) over what wrangler would hand
// the Worker. Bindings wrangler.toml declares stand in for their variables: a Secrets Store binding
// for DIALBACK_SECRET, a service binding for APP.

import { ConfigError, loadConfig } from "../../src/config.ts";

/** wrangler.toml as wrangler reads it: [vars], Secrets Store and service bindings, keep_vars. */
export async function readWranglerConfig(configPath) {
  const { experimental_readRawConfig } = await import("wrangler");
  const { rawConfig } = experimental_readRawConfig({ config: configPath });
  return {
    vars: Object.fromEntries(Object.entries(rawConfig.vars ?? {}).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])),
    secretBindings: (rawConfig.secrets_store_secrets ?? []).map((s) => s.binding),
    serviceBindings: (rawConfig.services ?? []).map((s) => s.binding),
    keepVars: rawConfig.keep_vars === true,
  };
}

/**
 * Runs the schema over `values` (variable -> string) plus the bindings named in `bindings`.
 * Returns undefined when the configuration is good, else the ConfigError (its message names the variable).
 */
export async function checkConfig(values, { secretBindings = [], serviceBindings = [] } = {}) {
  const raw = { ...values };
  for (const name of secretBindings) raw[name] ??= { get: async () => "secrets-store-binding-placeholder" };
  if (serviceBindings.includes("APP")) raw.APP ??= { fetch: async () => new Response(null) };
  try {
    await loadConfig(raw);
    return undefined;
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
}
