// A session's live view for the admin API (SessionInfo + pairs, durable-objects/lib/session-rpc.ts).

import { splitPairKey } from "../../src/dialback/pairs.js";
import type { ConnectionInfo } from "./connection-info.js";
import type { SessionHost } from "./session-host.js";

export interface SessionMeta {
  id: string;
  direction: "inbound" | "outbound";
  connection: ConnectionInfo;
  openedAt: number;
  closed: boolean;
  /** The peer's <open/> frame (WebSocket), replayed into a new frame reader after hibernation. */
  open?: string;
}

/** The session without its pairs: O(1), for the index update after every pair change. */
export function sessionInfo(meta: SessionMeta, host: SessionHost) {
  return {
    id: meta.id,
    direction: meta.direction,
    transport: meta.connection.transport === "gateway-tcp" ? ("gateway" as const) : meta.direction === "outbound" ? ("tcp" as const) : ("websocket" as const),
    ...(host.stream.remote ? { peer: host.stream.remote } : {}),
    ...(host.stream.local ? { local: host.stream.local } : {}),
    ...(host.stream.streamId ? { streamId: host.stream.streamId } : {}),
    tls: host.stream.secure,
    bidi: host.stream.bidi,
    openedAt: meta.openedAt,
    ...host.counters,
  };
}

/** The session with its pairs (O(pairs): the admin API's view of one session). */
export function describeSession(meta: SessionMeta, host: SessionHost) {
  const snap = host.stream.snapshot();
  const inbound = snap.inbound.map(([key, rec]) => {
    const [remote, local] = splitPairKey(key);
    return { local: local!, remote: remote!, direction: "inbound" as const, state: rec.state };
  });
  const outbound = snap.outbound.map(([key, rec]) => {
    const [local, remote] = splitPairKey(key);
    const state = rec.state === "valid" ? "valid" : rec.state === "failed" ? "error" : "pending";
    return { local: local!, remote: remote!, direction: "outbound" as const, state, ...(rec.state === "failed" ? { condition: rec.condition } : {}) };
  });
  return { ...sessionInfo(meta, host), pairs: [...inbound, ...outbound] };
}
