// The one place that turns the environment into Durable Object stubs, so naming stays consistent:
// stream sessions by stream id, remote domains by normalized domain, the local app as a singleton.

import type { Env } from "../env.js";
import type { Domain } from "../../src/types.js";

export const streamSessionStub = (env: Env, streamId: string) =>
  env.STREAM_SESSION.get(env.STREAM_SESSION.idFromName(streamId));

export const remoteDomainStub = (env: Env, domain: Domain) =>
  env.REMOTE_DOMAIN.get(env.REMOTE_DOMAIN.idFromName(domain));

export const localAppStub = (env: Env) => env.LOCAL_APP.get(env.LOCAL_APP.idFromName("local"));

export const peerAddressStub = (env: Env, key: string) => env.PEER_ADDRESS.get(env.PEER_ADDRESS.idFromName(key));

export const verifyBudgetStub = (env: Env) => env.VERIFY_BUDGET.get(env.VERIFY_BUDGET.idFromName("budget"));

export const authorityLinkStub = (env: Env, address: string) => env.AUTHORITY_LINK.get(env.AUTHORITY_LINK.idFromName(address));
