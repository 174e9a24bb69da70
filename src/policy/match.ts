// Which rule applies to a remote domain. Precedence, most specific first:
//   1. an exact rule for the domain (`chat.example.org`);
//   2. the wildcard with the longest suffix (`*.chat.example.org` beats `*.example.org`);
//   3. no rule: the global level (and, in allowlist-only mode, a refusal).
// `*.example.org` matches every subdomain at any depth but not `example.org` itself, as in RFC 6125
// §6.4.3 wildcards are about names *below* a domain; give the parent its own rule when it needs one.

import type { DomainRule } from "./document.js";

export interface MatchedRule {
  /** The rule's key, e.g. `example.org` or `*.example.org`. */
  pattern: string;
  rule: DomainRule;
}

/**
 * The rule stored under exactly `pattern`. Own keys only: a document that crossed an RPC or JSON is a
 * plain object, and `constructor` must not find Object.prototype's (issue 10.9).
 */
export function ruleFor(domains: Readonly<Record<string, DomainRule>>, pattern: string): DomainRule | undefined {
  return Object.hasOwn(domains, pattern) ? domains[pattern] : undefined;
}

/** `domain` must be normalized (see normalizeDomain); rule keys are normalized by parsePolicy. */
export function matchRule(domains: Readonly<Record<string, DomainRule>>, domain: string): MatchedRule | undefined {
  const exact = ruleFor(domains, domain);
  if (exact) return { pattern: domain, rule: exact };
  // Walk parents from the nearest: the first wildcard found is the most specific. O(labels).
  let rest = domain;
  for (let dot = rest.indexOf("."); dot !== -1; dot = rest.indexOf(".")) {
    rest = rest.slice(dot + 1);
    const pattern = `*.${rest}`;
    const rule = ruleFor(domains, pattern);
    if (rule) return { pattern, rule };
  }
  return undefined;
}
