// Placeholder until its issue lands; declared now so the wrangler migration is stable.

import { DurableObject } from "cloudflare:workers";
import type { Env } from "../worker/env.js";

export class StreamSession extends DurableObject<Env> {
  override async fetch(_request: Request): Promise<Response> {
    return new Response("not implemented", { status: 501 });
  }
}
