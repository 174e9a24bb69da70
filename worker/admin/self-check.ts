// GET /admin/v1/check: the edge checks itself as `prosodyctl check` does (issue 13). Per hosted
// domain: its SRV records via DoH (RFC 6120 §3.2.1, XEP-0368) point at gateways, each gateway is
// reachable and reaches this edge, host-meta on the domain advertises this edge (XEP-0156 /
// XEP-0468 §2); then DoH itself, the secrets, and the policy. Judgements: src/check/findings.ts.

import type { EdgeConfig } from "../../src/config.js";
import type { Env } from "../../durable-objects/env.js";
import { querySrv, type FetchLike } from "../../src/resolve/doh.js";
import { dohFetch } from "../../durable-objects/lib/deadline.js";
import { describeSocketError } from "../../src/log/socket-error.js";
import { policyWarnings, type PolicyDocument } from "../../src/policy/index.js";
import { streamHeader } from "../../src/xml/index.js";
import {
  gatewayFinding, hostMetaFinding, policyFindings, secretFindings, srvFindings,
  type Finding, type GatewayProbe, type SrvTarget,
} from "../../src/check/findings.js";
import { Conn, withTimeout } from "./peer-check.js";
import { advert, REL_S2S_WEBSOCKET } from "../routes/well-known.js";
import { inboundStreamRpc } from "../../durable-objects/lib/stubs.js";

const PROBE_TIMEOUT_MS = 5_000;

export async function selfCheck(env: Env, config: EdgeConfig, policy: PolicyDocument): Promise<Finding[]> {
  const dohUrl = config.dohUrl;
  const doh = dohFetch(config.timeouts.dohMs);
  const perDomain = await Promise.all(config.domains.map((d) => domainFindings(env, config, d, doh, dohUrl)));
  return [
    ...perDomain.flat(),
    await dohFinding(doh, dohUrl),
    ...secretFindings([
      { name: "DIALBACK_SECRET", value: typeof env.DIALBACK_SECRET === "string" ? env.DIALBACK_SECRET : config.secret },
      { name: "ADMIN_TOKEN", value: env.ADMIN_TOKEN },
      { name: "APP_TOKEN", value: env.APP_TOKEN, unset: { severity: "warning", message: "the application API (/api/v1) refuses every request" } },
      { name: "GATEWAY_TOKEN", value: env.GATEWAY_TOKEN, unset: { severity: "warning", message: "the TCP gateway's connection facts (TLS, certificates) are not believed" } },
      ...(env.DELIVERY_WEBHOOK_URL
        ? [{ name: "DELIVERY_WEBHOOK_SECRET", value: env.DELIVERY_WEBHOOK_SECRET, unset: { severity: "warning" as const, message: "webhook deliveries are not signed: the receiver cannot tell them from forgeries" } }]
        : []),
      ...("METRICS_TOKEN" in env ? [{ name: "METRICS_TOKEN", value: (env as unknown as Record<string, string | undefined>).METRICS_TOKEN }] : []),
    ]),
    ...policyFindings(policyWarnings(policy)),
  ];
}

async function domainFindings(env: Env, config: EdgeConfig, domain: string, doh: FetchLike, dohUrl: string): Promise<Finding[]> {
  const [tls, plain] = await Promise.all([querySrv(doh, dohUrl, `_xmpps-server._tcp.${domain}`), querySrv(doh, dohUrl, `_xmpp-server._tcp.${domain}`)]);
  const srv = srvFindings(domain, { tls, plain });
  const expected = advert(config, `https://${domain}/`)!.href;
  const [gateways, hostMeta] = await Promise.all([
    Promise.all(srv.targets.map(async (t) => gatewayFinding(domain, t, await probeGateway(env, config, domain, t)))),
    fetchHostMeta(domain, config.timeouts.dohMs).then((got) => hostMetaFinding(domain, expected, got)),
  ]);
  return [...srv.findings, ...gateways, hostMeta];
}

/**
 * Opens a stream to `domain` at the target, as a peer would, and reads the header. The edge names a
 * StreamSession after the stream id it sends, so a live session by that name proves the target
 * reaches this edge (and not another server, or a gateway configured for another edge).
 */
async function probeGateway(env: Env, config: EdgeConfig, domain: string, t: SrvTarget): Promise<GatewayProbe> {
  const at = `${t.host}:${t.port}`;
  let conn: Conn | undefined;
  try {
    conn = new Conn({ ...t, source: "srv" }, config.limits);
    await withTimeout(conn.opened(), PROBE_TIMEOUT_MS, `connect timeout after ${PROBE_TIMEOUT_MS / 1000} s`);
  } catch (err) {
    void conn?.close();
    const d = describeSocketError(err, "connect", at);
    return { reached: false, kind: d.kind, problem: `${d.problem} (${d.error})`, fix: d.fix };
  }
  try {
    await conn.write(streamHeader({ to: domain, version: "1.0" }));
    const header = await withTimeout(conn.header(), PROBE_TIMEOUT_MS, `no stream header within ${PROBE_TIMEOUT_MS / 1000} s`);
    let features: string[] = [];
    try {
      const el = await withTimeout(conn.nextElement(), PROBE_TIMEOUT_MS, "no features");
      if (el.name === "stream:features") features = el.children.flatMap((c) => (typeof c === "string" ? [] : [c.name]));
    } catch {
      // a pre-1.0 answer or a stream error: the header is what matters here
    }
    const id = header.id ?? "";
    // Our stream ids: a DO's name, or `<link>.<stream>` on a multiplexed gateway link (lib/stubs.ts).
    const thisEdge = /^[0-9a-f]{32}(\.[0-9a-f]{32})?$/.test(id) && (await inboundStreamRpc(env, id).describe()) !== null;
    return { reached: true, thisEdge, ...(header.from ? { from: header.from } : {}), features };
  } catch (err) {
    const d = describeSocketError(err, t.directTls ? "tls" : "stream", at);
    return { reached: false, kind: d.kind, problem: `${d.problem} (${d.error})`, fix: d.fix };
  } finally {
    await conn.close();
  }
}

async function fetchHostMeta(domain: string, timeoutMs: number): Promise<{ ok: true; hrefs: string[] } | { ok: false; problem: string }> {
  try {
    const res = await fetch(`https://${domain}/.well-known/host-meta.json`, { headers: { accept: "application/json" }, redirect: "manual", signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return { ok: false, problem: `answered HTTP ${res.status}` };
    const body = (await res.json()) as { links?: { rel?: string; href?: string }[] };
    return { ok: true, hrefs: (body.links ?? []).filter((l) => l.rel === REL_S2S_WEBSOCKET && typeof l.href === "string").map((l) => l.href!) };
  } catch (err) {
    const d = describeSocketError(err, "connect", `${domain}:443`);
    return { ok: false, problem: `unreachable: ${d.problem} (${d.error})` };
  }
}

async function dohFinding(doh: FetchLike, dohUrl: string): Promise<Finding> {
  // A name that exists everywhere: the root's NS set would do, but SRV is what the edge asks for.
  const a = await querySrv(doh, dohUrl, "_xmpp-server._tcp.jabber.org");
  if (a.kind === "error") {
    return { id: "doh", severity: "error", message: `DoH resolver ${dohUrl} failed: ${a.reason}`, fix: "set DOH_URL to a working DNS JSON resolver (default https://cloudflare-dns.com/dns-query)" };
  }
  return { id: "doh", severity: "ok", message: `DoH resolver ${dohUrl} answers`, fix: "" };
}
