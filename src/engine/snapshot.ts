// The JSON-serialisable state of one stream, for Durable Object hibernation: everything needed to
// resume (stream id, negotiated features, pairs, pending requests, queued stanzas as XML strings).
// Take it after draining `pollAction()`: actions not yet polled are not part of it.

import type { DialbackCondition } from "../dialback/elements.js";
import type { PeerCertificate, FederationLevel } from "./ports.js";
import type { Phase, StreamRole } from "../stream/phase.js";

/**
 * What one stream has negotiated, field for field the same in the live state (src/stream/context.ts
 * `Ctx`, with branded domains and ids) and in a snapshot (plain strings).
 */
export interface StreamFacts<Id extends string = string, Dom extends string = string> {
  phase: Phase;
  /** The id keys on this stream are bound to (ours when receiving, the peer's when initiating). */
  streamId: Id | undefined;
  /** Our domain / the peer's domain as in the stream headers. */
  local: Dom | undefined;
  remote: Dom | undefined;
  /** The peer speaks XMPP 1.0 (sent version='1.0'). */
  peerVersion1: boolean;
  /** We have seen the peer's stream header (decides remote-server-not-found vs -timeout bounces). */
  peerHeaderSeen: boolean;
  headerSent: boolean;
  secure: boolean;
  peerCertificate: PeerCertificate | undefined;
  /** Receiving role: we offered STARTTLS on this stream. */
  offeredTls: boolean;
  /** Receiving role: we offered XEP-0288 bidi on this stream. */
  offeredBidi: boolean;
  /**
   * SASL EXTERNAL. Receiving role (src/stream/sasl.ts): not offered, offered, or done. Initiating
   * role (src/stream/sasl-initiator.ts): none, requested (auth sent), done, or failed (dialback).
   */
  sasl: "none" | "offered" | "done" | "requested" | "failed";
  /** Names of the client certificate we presented on this connection (XEP-0178 as initiator). */
  localNames: string[] | undefined;
  /** SASL <failure/>s sent on this stream (RFC 6120 §6.4.5 caps the retries). */
  saslFailures: number;
  /** XEP-0220 §3.2 / XEP-0288 §2.2: the peer handles dialback errors. */
  peerDialbackErrors: boolean;
  bidi: boolean;
  /** Prefix -> namespace declared by the peer's stream header ("" = default namespace). */
  scope: Record<string, string>;
  nextHandle: number;
  negotiationDeadline: number | undefined;
  /** Inbound pairs whose verification failed on this stream (capped by maxFailedPairsPerStream). */
  failedPairs: number;
  /** Inbound pair claims refused on this stream (dialback errors and type='invalid'). */
  refusedClaims: number;
  /** When a receiving stream with refused claims and no pair left is closed (src/stream/unpaired.ts). */
  unpairedDeadline: number | undefined;
}

/** The keys of StreamFacts, for copying them between a live stream and a snapshot. */
export const STREAM_FACTS = [
  "phase",
  "streamId",
  "local",
  "remote",
  "peerVersion1",
  "peerHeaderSeen",
  "headerSent",
  "secure",
  "peerCertificate",
  "offeredTls",
  "offeredBidi",
  "sasl",
  "saslFailures",
  "localNames",
  "peerDialbackErrors",
  "bidi",
  "scope",
  "nextHandle",
  "negotiationDeadline",
  "failedPairs",
  "refusedClaims",
  "unpairedDeadline",
] as const satisfies readonly (keyof StreamFacts)[];

// Compile-time check that STREAM_FACTS names every field (a new fact must be snapshotted too).
const _allFacts: Exclude<keyof StreamFacts, (typeof STREAM_FACTS)[number]> extends never ? true : never = true;
void _allFacts;

/** A copy of the StreamFacts fields of `from` (scope copied too, so the two never share it). */
export function copyFacts<Id extends string, Dom extends string>(from: StreamFacts<Id, Dom>): StreamFacts<Id, Dom> {
  const out = {} as Record<string, unknown>;
  for (const k of STREAM_FACTS) out[k] = from[k];
  return { ...(out as unknown as StreamFacts<Id, Dom>), scope: { ...from.scope } };
}

export interface StreamSnapshot extends StreamFacts {
  v: 1;
  role: StreamRole;
  legacy: boolean;
  /** A pending pair's `key` is absent in snapshots from before it was kept (not asked again then). */
  inbound: [key: string, rec: { state: "pending"; handle: number; deadline: number; key?: string } | { state: "valid"; level: FederationLevel }][];
  outbound: [
    key: string,
    rec:
      | { state: "keying" | "pending"; handle?: number; deadline?: number; queue: string[] }
      | { state: "valid"; level: FederationLevel }
      | { state: "failed"; condition: DialbackCondition },
  ][];
  verifies: { handle: number; from: string; to: string; id: string; key: string; sent: boolean; deadline: number }[];
  /** Key checks in flight for db:verify requests we answer (authoritative role). */
  checks: [handle: number, req: { from: string; to: string; id: string; key: string }][];
}
