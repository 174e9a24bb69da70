// Types `env` from "cloudflare:test" as the Worker's Env (typed Durable Object namespaces for RPC).
declare namespace Cloudflare {
  interface Env extends import("../../worker/env.js").Env {}
}
