// One per remote domain (named by the normalized domain). Owns the outbound S2S stream to it, reused
// for every domain pair (XEP-0220 §2.5), and the pooled verification stream to its Authoritative
// Server (seed 000). Stanzas submitted for the domain are persisted here first.

import { DurableObject } from "cloudflare:workers";
import type { Env } from "../worker/env.js";
import { Outbox } from "./lib/outbox.js";

export class RemoteDomain extends DurableObject<Env> {
  readonly #outbox: Outbox;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#outbox = new Outbox(ctx.storage.sql);
  }

  /** Persists a stanza from `local` (a hosted domain) for this remote domain. */
  async enqueue(local: string, xml: string): Promise<number> {
    return this.#outbox.add(local, xml, Date.now());
  }

  queued(): number {
    return this.#outbox.size();
  }
}
