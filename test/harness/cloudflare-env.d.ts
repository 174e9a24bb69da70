// Types `env` from "cloudflare:test" as the Worker's Env (typed Durable Object namespaces for RPC).
import type { Env as WorkerEnv } from "../../worker/env.js";

declare global {
  namespace Cloudflare {
    interface Env extends WorkerEnv {}
  }
}
