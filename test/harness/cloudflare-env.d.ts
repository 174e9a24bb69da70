// Types `env` from "cloudflare:test" as the Worker's Env (typed Durable Object namespaces for RPC).
import type { Env as WorkerEnv } from "../../worker/env.js";

declare global {
  namespace Cloudflare {
    interface Env extends WorkerEnv {
      /** test/harness/app-worker.js, default export (fetch) and RpcApp entrypoint (deliver RPC). */
      TEST_APP_FETCH: Fetcher;
      TEST_APP_RPC: Fetcher & { deliver(xml: string): Promise<boolean> };
    }
  }
}
