// Types `env` from "cloudflare:test" as the Worker's Env: the generated bindings (Cloudflare.Env,
// worker-configuration.d.ts), the deployment variables, and the test-only service bindings.
import type { EnvVars } from "../../durable-objects/env.js";

declare global {
  namespace Cloudflare {
    interface Env extends EnvVars {
      /** test/harness/app-worker.js, default export (fetch) and RpcApp entrypoint (deliver RPC). */
      TEST_APP_FETCH: Fetcher;
      TEST_APP_RPC: Fetcher & { deliver(xml: string): Promise<boolean> };
    }
  }
}
