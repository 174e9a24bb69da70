// The edge's self-check (GET /admin/v1/check, like `prosodyctl check`): each finding has a severity
// and a sentence saying what to fix. Pure judgements over facts the shell gathered (DoH answers,
// host-meta, probes of each gateway, the configuration, the policy): worker/admin/self-check.ts.

import type { SrvAnswer } from "../resolve/doh.js";

export type Severity = "ok" | "warning" | "error";

export interface Finding {
  /** Stable identifier of the check, e.g. "srv", "host-meta", "gateway", "secret.ADMIN_TOKEN". */
  id: string;
  severity: Severity;
  domain?: string;
  message: string;
  /** What to do; for an ok finding, what keeps it so (may be empty). */
  fix: string;
}

/** RFC 6120 §3.2.1 and XEP-0368: the two S2S service names, direct TLS first. */
export const SRV_SERVICES = [
  { service: "_xmpps-server._tcp", directTls: true, port: 5270 },
  { service: "_xmpp-server._tcp", directTls: false, port: 5269 },
] as const;

export interface SrvTarget {
  host: string;
  port: number;
  directTls: boolean;
}

/** The SRV answers of one hosted domain: findings, and the targets (gateways) to probe. */
export function srvFindings(domain: string, answers: { tls: SrvAnswer; plain: SrvAnswer }, example = "gateway.example.org"): { findings: Finding[]; targets: SrvTarget[] } {
  const findings: Finding[] = [];
  const targets: SrvTarget[] = [];
  for (const { service, directTls, port } of SRV_SERVICES) {
    const a = directTls ? answers.tls : answers.plain;
    const name = `${service}.${domain}`;
    const record = `${name}. 3600 IN SRV 0 5 ${port} ${example}.`;
    if (a.kind === "error") {
      findings.push({ id: "srv", severity: "error", domain, message: `the SRV lookup of ${name} failed: ${a.reason}`, fix: "check DOH_URL and that the domain's name servers answer" });
    } else if (a.kind === "none") {
      findings.push({
        id: "srv", severity: directTls ? "warning" : "error", domain,
        message: `${name} has no SRV record: peers ${directTls ? "cannot use direct TLS (XEP-0368)" : "fall back to the domain's own address on 5269, which is not a gateway"}`,
        fix: `publish ${record} (a host running the gateway from gateway/, port ${port})`,
      });
    } else if (a.records.length === 1 && a.records[0]!.target === ".") {
      findings.push({ id: "srv", severity: directTls ? "warning" : "error", domain, message: `${name} is "." (RFC 2782: no service)`, fix: `replace it with ${record}` });
    } else {
      const list = a.records.filter((r) => r.target !== ".");
      for (const r of list) if (!targets.some((t) => t.host === r.target && t.port === r.port && t.directTls === directTls)) targets.push({ host: r.target, port: r.port, directTls });
      findings.push({ id: "srv", severity: "ok", domain, message: `${name} -> ${list.map((r) => `${r.target}:${r.port}`).join(", ")}`, fix: "" });
    }
  }
  return { findings, targets };
}

/** What a probe of one SRV target found. */
export type GatewayProbe =
  /** Connected and read the stream header; `thisEdge`: the stream id it sent names a session of this edge. */
  | { reached: true; thisEdge: boolean; from?: string; features: string[] }
  | { reached: false; kind: string; problem: string; fix: string };

export function gatewayFinding(domain: string, t: SrvTarget, probe: GatewayProbe): Finding {
  const at = `${t.host}:${t.port}${t.directTls ? " (direct TLS)" : ""}`;
  if (!probe.reached) return { id: "gateway", severity: "error", domain, message: `${at}: ${probe.problem}`, fix: probe.fix };
  if (!probe.thisEdge) {
    return {
      id: "gateway", severity: "error", domain,
      message: `${at} answers XMPP${probe.from ? ` as ${probe.from}` : ""}, but the stream is not one of this edge's: another server, or a gateway configured for another edge`,
      fix: `run the gateway there with GATEWAY_EDGE_URL pointing at this edge's /xmpp-s2s and this edge's GATEWAY_TOKEN (gateway/README.md)`,
    };
  }
  return {
    id: "gateway", severity: "ok", domain,
    message: `${at} reaches this edge${t.directTls ? " over TLS with a publicly trusted certificate for the host" : ""}; features: ${probe.features.join(", ") || "none"}`,
    fix: "",
  };
}

/** host-meta on the domain (XEP-0156 / XEP-0468 §2): advertises `expected`, this edge's endpoint. */
export function hostMetaFinding(domain: string, expected: string, got: { ok: true; hrefs: string[] } | { ok: false; problem: string }): Finding {
  const url = `https://${domain}/.well-known/host-meta`;
  const route = `route ${domain}/.well-known/host-meta* to this Worker (a Custom Domain or a route in wrangler.toml)`;
  if (!got.ok) return { id: "host-meta", severity: "error", domain, message: `${url}: ${got.problem}`, fix: route };
  if (got.hrefs.includes(expected)) return { id: "host-meta", severity: "ok", domain, message: `${url} advertises ${expected}`, fix: "" };
  return {
    id: "host-meta", severity: "error", domain,
    message: `${url} does not advertise this edge's ${expected}${got.hrefs.length ? ` (it lists ${got.hrefs.join(", ")})` : " (no urn:xmpp:alt-connections:s2s-websocket link)"}`,
    fix: `${route}; set EDGE_PUBLIC_URL if peers should use another host`,
  };
}

/**
 * Estimated strength of a secret in bits: its length times the Shannon entropy of its characters
 * (so "aaaa..." or "test-token-0123" score low whatever their length).
 */
export function secretBits(s: string): number {
  if (s.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) h -= (n / s.length) * Math.log2(n / s.length);
  return Math.round(h * s.length);
}

/** At least this many estimated bits: `openssl rand -hex 32` gives about 250, -hex 16 about 120. */
export const STRONG_SECRET_BITS = 128;

export interface SecretFacts {
  name: string;
  value: string | undefined;
  /** What an unset secret means, or undefined when unset is fine. */
  unset?: { severity: Severity; message: string };
}

export function secretFindings(secrets: SecretFacts[]): Finding[] {
  const out: Finding[] = [];
  const put = `npx wrangler secret put`;
  for (const s of secrets) {
    const id = `secret.${s.name}`;
    if (s.value === undefined || s.value === "") {
      if (s.unset) out.push({ id, severity: s.unset.severity, message: `${s.name} is not set: ${s.unset.message}`, fix: `${put} ${s.name} (e.g. the output of openssl rand -hex 32)` });
      continue;
    }
    const bits = secretBits(s.value);
    if (bits < STRONG_SECRET_BITS) {
      out.push({ id, severity: "warning", message: `${s.name} is weak: about ${bits} bits (${s.value.length} characters)`, fix: `${put} ${s.name} with a random value, e.g. openssl rand -hex 32 (about 250 bits)` });
    } else {
      out.push({ id, severity: "ok", message: `${s.name} is set (about ${bits} bits)`, fix: "" });
    }
  }
  const set = secrets.filter((s) => s.value);
  for (let i = 0; i < set.length; i++) {
    for (let j = i + 1; j < set.length; j++) {
      if (set[i]!.value === set[j]!.value) {
        out.push({ id: "secret.reused", severity: "error", message: `${set[i]!.name} and ${set[j]!.name} have the same value: whoever holds one holds both`, fix: `give each its own random value (${put})` });
      }
    }
  }
  return out;
}

/** The policy's own warnings (policyWarnings), as findings. */
export function policyFindings(warnings: string[]): Finding[] {
  if (warnings.length === 0) return [{ id: "policy", severity: "ok", message: "the federation policy is consistent", fix: "" }];
  return warnings.map((w) => ({ id: "policy", severity: "warning" as const, message: w, fix: "change the policy: PUT or PATCH /admin/v1/policy" }));
}
