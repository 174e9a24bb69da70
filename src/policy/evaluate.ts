// Policy decisions for one domain pair, with the exact condition the peer must see when refused.
// XEP-0220 §2.4 (dialback error conditions) names them:
//   - policy-violation: "a policy mandating usage of TLS before dialback" and the request came without
//     TLS (levels encrypted and trusted);
//   - not-authorized: "a policy requiring ... a valid PKIX certificate containing the identity of the
//     Sender Domain" and none was presented (level trusted; dialback alone never satisfies it);
//   - forbidden: a deny rule or a domain missing from the allowlist. RFC 6120 §8.3.3.4: the entity
//     "does not possess the necessary permissions"; it is not a verification failure, so the text says
//     it is local policy. The same conditions are used for bounces of stanzas we refuse to send.
// Pure: the caller passes what it knows about the transport.

import { levelRank, type Level, type PolicyDocument } from "./document.js";
import { matchRule, type MatchedRule } from "./match.js";

export type Direction = "inbound" | "outbound";

export interface TransportFacts {
  /** TLS (STARTTLS, direct TLS, or wss:) protects the stream. */
  encrypted: boolean;
  /**
   * A certificate chain valid for the remote domain was verified (RFC 6125 / XEP-0344), e.g. the
   * `connect()` TLS handshake to the domain, or an authenticated client certificate.
   */
  authenticated: boolean;
}

export interface PairQuery {
  local: string;
  remote: string;
  direction: Direction;
  transport: TransportFacts;
}

export type RefusalCondition = "forbidden" | "policy-violation" | "not-authorized";
export type RefusalReason = "denied" | "not-allowlisted" | "tls-required" | "certificate-required";

export type Decision =
  | {
      allowed: true;
      level: Level;
      rule: MatchedRule | undefined;
      /** What proves the remote identity: nothing (permissive), dialback, or the certificate. */
      verification: "none" | "dialback" | "certificate";
    }
  | {
      allowed: false;
      level: Level;
      rule: MatchedRule | undefined;
      reason: RefusalReason;
      condition: RefusalCondition;
      /** Human-readable, safe to send to the peer in `<text/>`. */
      text: string;
    };

/** The level that applies to `remote`: its rule's level if any, else the global one. */
export function effectiveLevel(doc: PolicyDocument, remote: string): { level: Level; rule: MatchedRule | undefined } {
  const rule = matchRule(doc.domains, remote);
  return { level: (rule?.rule.action === "allow" ? rule.rule.level : undefined) ?? doc.level, rule };
}

/** May the domain pair (local, remote) be used on a stream with these transport facts? */
export function evaluatePair(doc: PolicyDocument, q: PairQuery): Decision {
  const { level, rule } = effectiveLevel(doc, q.remote);
  const by = rule ? `rule '${rule.pattern}'` : "global policy";
  if (rule?.rule.action === "deny") {
    return refuse(level, rule, "denied", "forbidden", `federation with ${q.remote} is denied by local policy (${by})`);
  }
  if (doc.allowlistOnly && rule?.rule.action !== "allow") {
    return refuse(level, rule, "not-allowlisted", "forbidden", `${q.remote} is not on this server's federation allowlist`);
  }
  // XEP-0238 §1 levels 3 and 4 both need TLS first; XEP-0220 §2.4 names policy-violation for it.
  if (levelRank(level) >= levelRank("encrypted") && !q.transport.encrypted) {
    return refuse(level, rule, "tls-required", "policy-violation", `TLS is required before dialback with ${q.remote} (level ${level}, ${by})`);
  }
  if (level === "trusted") {
    if (!q.transport.authenticated) {
      return refuse(
        level,
        rule,
        "certificate-required",
        "not-authorized",
        `a certificate valid for ${q.remote} is required; dialback alone is not enough (level trusted, ${by})`,
      );
    }
    return { allowed: true, level, rule, verification: "certificate" };
  }
  return { allowed: true, level, rule, verification: level === "permissive" ? "none" : "dialback" };
}

function refuse(
  level: Level,
  rule: MatchedRule | undefined,
  reason: RefusalReason,
  condition: RefusalCondition,
  text: string,
): Decision {
  return { allowed: false, level, rule, reason, condition, text };
}

/**
 * Must STARTTLS be offered with `<required/>` (RFC 6120 §5.3.1) before we know the peer? With
 * `remote` unknown (no `from` on the stream header) TLS is required only if no domain could be
 * accepted without it: the global level and every allow rule need encryption.
 */
export function tlsRequired(doc: PolicyDocument, remote?: string): boolean {
  const enc = levelRank("encrypted");
  if (remote !== undefined) return levelRank(effectiveLevel(doc, remote).level) >= enc;
  if (!doc.allowlistOnly && levelRank(doc.level) < enc) return false;
  for (const r of Object.values(doc.domains)) {
    if (r.action === "allow" && levelRank(r.level ?? doc.level) < enc) return false;
  }
  return true;
}
