// The send path shared by POST /api/v1/stanzas and the EdgeApi RPC: validate, then hand the stanza to
// the RemoteDomain DO for its destination, which persists it before we answer (nothing is lost).

import { edgeConfig } from "./config.js";
import type { Env } from "../env.js";
import { submitStanza } from "../../src/delivery/submit.js";
import { remoteDomainStub } from "./stubs.js";

export type SendResult = { ok: true; id: string; to: string } | { ok: false; status: 413 | 422; detail: string };

export async function sendStanza(env: Env, xml: string): Promise<SendResult> {
  const config = await edgeConfig(env);
  const s = submitStanza(xml, config.domains, config.limits.maxStanzaBytes);
  if (!s.ok) return s;
  await remoteDomainStub(env, s.to).enqueue(s.from, s.stanza.toString());
  return { ok: true, id: s.id, to: s.to };
}
