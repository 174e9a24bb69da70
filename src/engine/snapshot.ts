// The JSON-serialisable state of one stream, for Durable Object hibernation: everything needed to
// resume (stream id, negotiated features, pairs, pending requests, queued stanzas as XML strings).
// Take it after draining `pollAction()`: actions not yet polled are not part of it.

import type { DialbackCondition } from "../dialback/elements.js";
import type { PeerCertificate, FederationLevel } from "./ports.js";
import type { Phase, StreamRole } from "../stream/phase.js";

export interface StreamSnapshot {
  v: 1;
  role: StreamRole;
  phase: Phase;
  /** The id keys on this stream are bound to (ours when receiving, the peer's when initiating). */
  streamId: string | undefined;
  /** Our domain / the peer's domain as in the stream headers. */
  local: string | undefined;
  remote: string | undefined;
  legacy: boolean;
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
  /** XEP-0220 §3.2 / XEP-0288 §2.2: the peer handles dialback errors. */
  peerDialbackErrors: boolean;
  bidi: boolean;
  /** Prefix -> namespace declared by the peer's stream header. */
  scope: Record<string, string>;
  nextHandle: number;
  negotiationDeadline: number | undefined;
  inbound: [key: string, rec: { state: "pending"; handle: number; deadline: number } | { state: "valid"; level: FederationLevel }][];
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
