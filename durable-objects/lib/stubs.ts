// The one place that turns the environment into Durable Object stubs, so naming stays consistent:
// stream sessions by stream id, remote domains by normalized domain, the local app as a singleton.

import type { Env } from "../env.js";
import type { Domain } from "../../src/types.js";
import type { StreamErrorCondition } from "../../src/errors.js";
import type { PolicySnapshot } from "./session-rpc.js";

/**
 * The StreamSession DO of an inbound stream. A stream alone on its WebSocket names its DO; a stream
 * of a multiplexed gateway link is `<link id>.<stream>` (durable-objects/stream-session.ts), and its
 * DO is the link's.
 */
export const streamSessionStub = (env: Env, streamId: string) =>
  env.STREAM_SESSION.get(env.STREAM_SESSION.idFromName(linkOf(streamId)));

/** The DO name part of a stream id (the whole id for a stream alone on its WebSocket). */
export function linkOf(streamId: string): string {
  const dot = streamId.indexOf(".");
  return dot < 0 ? streamId : streamId.slice(0, dot);
}

/** The StreamSessionRpc of one inbound stream (lib/session-rpc.ts), whichever DO shape holds it. */
export function inboundStreamRpc(env: Env, streamId: string) {
  const stub = streamSessionStub(env, streamId);
  return {
    revokePair: (local: string, remote: string, reason?: string) => stub.revokePair(local, remote, reason, streamId),
    closeStream: (condition: StreamErrorCondition, text?: string) => stub.closeStream(condition, text, streamId),
    describe: () => stub.describe(streamId),
    policyChanged: (policy: PolicySnapshot) => stub.policyChanged(policy),
    trySendBidi: (xml: string) => stub.trySendBidi(xml, streamId),
  };
}

export const remoteDomainStub = (env: Env, domain: Domain) =>
  env.REMOTE_DOMAIN.get(env.REMOTE_DOMAIN.idFromName(domain));

export const localAppStub = (env: Env) => env.LOCAL_APP.get(env.LOCAL_APP.idFromName("local"));

export const peerAddressStub = (env: Env, key: string) => env.PEER_ADDRESS.get(env.PEER_ADDRESS.idFromName(key));

export const verifyBudgetStub = (env: Env) => env.VERIFY_BUDGET.get(env.VERIFY_BUDGET.idFromName("budget"));

export const authorityLinkStub = (env: Env, address: string) => env.AUTHORITY_LINK.get(env.AUTHORITY_LINK.idFromName(address));
