// Which engine actions an operator sees in the logs, and as what (issue 13): one structured line per
// stream closed, dialback verdict, bounce and policy refusal. Pure: the shell adds the session and
// the verdict's latency (durable-objects/lib/log.ts).

import type { ShellAction } from "../engine/index.js";
import type { LogFields, LogLevel } from "./format.js";

export interface LogEvent {
  level: LogLevel;
  event: string;
  fields: LogFields;
}

/** The dialback verdicts of XEP-0220 §2.1.2 / §2.4 as logged: valid, invalid (key refused), error. */
export type Verdict = "valid" | "invalid" | "error";

/**
 * The log event for `a`, or undefined for actions that are not operator events (send, key work,
 * deliveries, pending pairs). `latencyMs`: time since the pair was claimed, when the shell knows it.
 */
export function actionLogEvent(a: ShellAction, session: string, latencyMs?: number): LogEvent | undefined {
  switch (a.type) {
    case "pair-state": {
      const pair = { session, local: a.local, remote: a.remote, direction: a.direction };
      if (a.state === "pending") return undefined;
      if (a.state === "revoked") return { level: "info", event: "pair.revoked", fields: pair };
      const verdict: Verdict = a.state;
      return {
        // A verdict other than valid is the peer's or the network's doing: a warning, not an error of ours.
        level: verdict === "valid" ? "info" : "warn",
        event: "dialback.verdict",
        fields: { ...pair, verdict, condition: a.condition, via: a.via, level: a.level, latencyMs },
      };
    }
    case "audit": {
      const fields = { session, local: a.local, remote: a.remote, detail: a.detail };
      if (a.event === "policy-refusal") return { level: "warn", event: "policy.refusal", fields };
      if (a.event === "spoofing-attempt") return { level: "warn", event: "dialback.spoofing-attempt", fields };
      return { level: "info", event: `stream.${a.event}`, fields };
    }
    case "bounce":
      return {
        level: "info",
        event: "stanza.bounced",
        // The bounce is addressed to our sender: its `to` is the local JID, `from` the remote one.
        fields: { session, condition: a.condition, kind: a.stanza.name, from: a.stanza.attrs.from, to: a.stanza.attrs.to, id: a.stanza.attrs.id },
      };
    case "closed":
      return {
        // A stream error we sent or got is worth a look; a clean close is routine.
        level: a.error ? "warn" : "info",
        event: "stream.closed",
        fields: { session, reason: closeReason(a.by, a.error), by: a.by, condition: a.error },
      };
    default:
      return undefined;
  }
}

/** Why a stream ended, in words (RFC 6120 §4.4 clean close, §4.9 stream errors). */
export function closeReason(by: "us" | "peer" | "transport", condition?: string): string {
  if (by === "transport") return "the connection was lost";
  if (by === "peer") return condition ? `the peer sent the stream error ${condition}` : "the peer closed the stream";
  return condition ? `we sent the stream error ${condition}` : "we closed the stream";
}
