// POST /admin/v1/peers/{domain}/check: "why does federation with X fail?" Runs, as the edge would,
// each step towards an outbound stream and reports each with its timing and precise failure:
//   policy -> resolve (static route or SRV, RFC 6120 §3.2) -> connect -> stream-open (RFC 6120 §4.2)
//   -> starttls (RFC 6120 §5, when offered or required) -> dialback (XEP-0220 §2.1, db:result as
//   `from` and wait for the peer's answer). It stops at the first failing step.
// The probe uses its own short-lived connection; it never touches live sessions.

import { connect } from "cloudflare:sockets";
import type { Element } from "ltx";
import type { EdgeConfig } from "../../src/config.js";
import { DialbackKeys } from "../../src/dialback/keys.js";
import { evaluatePair, type PolicyDocument } from "../../src/policy/index.js";
import { resolvePeer, type Target } from "../../src/resolve/resolver.js";
import { dohFetch } from "../../durable-objects/lib/deadline.js";
import { asStreamId, type Domain } from "../../src/types.js";
import { NS_TLS, StreamReader, streamClose, streamHeader, type StreamEvent } from "../../src/xml/index.js";
import { describeSocketError, type SocketErrorKind, type SocketStep } from "../../src/log/socket-error.js";
import { queryAddresses, type FetchLike } from "../../src/resolve/doh.js";
import { classifyHost } from "../../src/resolve/address-class.js";

export interface CheckStep {
  step: "policy" | "resolve" | "connect" | "stream-open" | "starttls" | "dialback";
  ok: boolean;
  ms: number;
  detail: string;
  condition?: string;
  /** A failed DNS, connect or TLS step: which kind of failure (src/log/socket-error.ts). */
  kind?: SocketErrorKind;
  /** On failure: what to change so the step succeeds. */
  fix?: string;
}

type StepResult<T> = { ok: boolean; detail: string; condition?: string; value?: T; kind?: SocketErrorKind; fix?: string };

const STEP_TIMEOUT_MS = 10_000;

export async function checkPeer(
  domain: Domain,
  from: Domain,
  config: EdgeConfig,
  policy: PolicyDocument,
): Promise<CheckStep[]> {
  const steps: CheckStep[] = [];
  const doh = dohFetch(config.timeouts.dohMs);
  const dohAt = config.dohUrl;
  let dialled: string | undefined;
  const run = async <T>(step: CheckStep["step"], fn: () => Promise<StepResult<T>>) => {
    const t0 = performance.now();
    let r: StepResult<T>;
    try {
      r = await withTimeout(fn(), STEP_TIMEOUT_MS, `no answer within ${STEP_TIMEOUT_MS / 1000} s`);
    } catch (err) {
      r = { ok: false, detail: (err as Error).message, condition: (err as { condition?: string }).condition };
      // A socket error from workerd, in DNS / refused / timeout / TLS terms.
      if (step === "starttls" || step === "stream-open" || step === "dialback") {
        const d = describeSocketError(err, step === "starttls" ? "tls" : "stream", dialled);
        if (d.kind !== "unknown" || step === "starttls") r = { ...r, detail: `${d.problem} (${d.error})`, kind: d.kind, fix: d.fix };
      }
    }
    const s: CheckStep = { step, ok: r.ok, ms: Math.round((performance.now() - t0) * 10) / 10, detail: r.detail };
    if (r.condition) s.condition = r.condition;
    if (!r.ok && r.kind) s.kind = r.kind;
    if (!r.ok && r.fix) s.fix = r.fix;
    steps.push(s);
    return r.ok ? r.value : undefined;
  };

  // Policy first: a check for a peer we refuse says so instead of connecting.
  const decision = evaluatePair(policy, { local: from, remote: domain, direction: "outbound", transport: { encrypted: true, authenticated: true } });
  const allowed = await run("policy", async () =>
    decision.allowed
      ? { ok: true, detail: `allowed at level ${decision.level}${decision.rule ? ` by rule '${decision.rule.pattern}'` : ""}`, value: true }
      : { ok: false, detail: decision.text, condition: decision.condition },
  );
  if (!allowed) return steps;
  const tlsNeeded = decision.level === "encrypted" || decision.level === "trusted";

  const targets = await run<Target[]>("resolve", async () => {
    const r = await resolvePeer(domain, {
      staticRoutes: config.staticRoutes,
      fetch: doh,
      dohUrl: dohAt,
      random: Math.random,
      now: Date.now(),
    });
    if (!r.ok) return { ok: false, detail: r.reason, condition: r.condition, fix: `publish SRV records for ${domain} pointing at its XMPP server, if it has one` };
    if (r.dohErrors) {
      // Not "no SRV records": the lookup itself failed, so the answer is unknown (the edge would
      // try the fallback below, which may well be the wrong server).
      return {
        ok: false, kind: "dns", condition: "remote-server-not-found",
        detail: `DNS lookup failed: ${r.dohErrors.join("; ")}; the edge would fall back to ${r.targets.map((t) => `${t.host}:${t.port}`).join(", ")}`,
        fix: `check that DOH_URL (${dohAt}) answers DNS JSON queries, e.g. curl -H 'accept: application/dns-json' '${dohAt}?name=_xmpp-server._tcp.${domain}&type=SRV', and that ${domain}'s name servers answer`,
      };
    }
    return { ok: true, detail: r.targets.map((t) => `${t.host}:${t.port} (${t.source}${t.directTls ? ", direct TLS" : ""})`).join(", "), value: r.targets };
  });
  if (!targets) return steps;

  // Try targets in order, as the edge does; report the connect step for the first that answers.
  let conn: Conn | undefined;
  let target: Target | undefined;
  const failures: string[] = [];
  let first: { kind: SocketErrorKind; fix: string } | undefined;
  await run("connect", async () => {
    for (const t of targets) {
      const at = `${t.host}:${t.port}`;
      try {
        const c = new Conn(t, config.limits);
        await withTimeout(c.opened(), CONNECT_TIMEOUT_MS, `connect timeout after ${CONNECT_TIMEOUT_MS / 1000} s`);
        conn = c;
        target = t;
        dialled = at;
        return { ok: true, detail: `connected to ${at}${failures.length ? ` after ${failures.join("; ")}` : ""}` };
      } catch (err) {
        const d = await explainConnectFailure(err, t, doh, dohAt);
        first ??= d;
        failures.push(`${at}: ${d.problem} (${d.error})`);
      }
    }
    return { ok: false, detail: failures.join("; "), condition: "remote-server-not-found", ...first };
  });
  if (!conn || !target) return steps;

  try {
    let features = await run<{ id: string; features: Element | undefined }>("stream-open", () => openStream(conn!, from, domain));
    if (!features) return steps;
    const starttls = features.features?.getChild("starttls", NS_TLS);
    if (!target.directTls && (starttls || tlsNeeded)) {
      features = await run("starttls", async () => {
        if (!starttls) {
          return { ok: false, detail: `policy level ${decision.level} needs TLS but ${domain} does not offer STARTTLS`, condition: "policy-violation" };
        }
        await conn!.write(`<starttls xmlns='${NS_TLS}'/>`);
        const el = await conn!.nextElement();
        if (el.name !== "proceed") return { ok: false, detail: `peer answered <${el.name}/> to <starttls/>`, condition: "policy-violation" };
        await conn!.startTls(domain);
        const again = await openStream(conn!, from, domain);
        return again.ok ? { ok: true, detail: `TLS established (certificate verified for ${target!.host}); ${again.detail}`, value: again.value } : again;
      });
      if (!features) return steps;
    }
    await run("dialback", async () => {
      const keys = new DialbackKeys(config.secret, config.previousSecrets, config.keyFormulas);
      const key = await keys.generate({ receiving: domain, originating: from, streamId: asStreamId(features!.id) });
      await conn!.write(`<db:result from='${from}' to='${domain}'>${key}</db:result>`);
      for (;;) {
        const el = await conn!.nextElement();
        if (el.name === "db:result" && el.attrs.from === domain && el.attrs.to === from) {
          if (el.attrs.type === "valid") return { ok: true, detail: `${domain} verified ${from} with its authority` };
          if (el.attrs.type === "invalid") return { ok: false, detail: `${domain} answered type='invalid'`, condition: "invalid" };
          const cond = el.getChild("error")?.children.find((c): c is Element => typeof c !== "string")?.name ?? "undefined-condition";
          return { ok: false, detail: `${domain} answered a dialback error`, condition: cond };
        }
        if (el.name === "stream:error") {
          const cond = el.children.find((c): c is Element => typeof c !== "string")?.name ?? "undefined-condition";
          return { ok: false, detail: `${domain} closed the stream with a stream error`, condition: cond };
        }
      }
    });
  } finally {
    await conn.close();
  }
  return steps;
}

const CONNECT_TIMEOUT_MS = 5_000;

/**
 * A failed connect() in DNS / refused / timeout terms. workerd says "proxy request failed, cannot
 * connect to the specified address" both for a name without addresses and for a port nobody
 * listens on: for a name, its A/AAAA records (DoH) tell the two apart.
 */
async function explainConnectFailure(err: unknown, t: Target, doh: FetchLike, dohUrl: string) {
  const at = `${t.host}:${t.port}`;
  const d = describeSocketError(err, "connect" satisfies SocketStep, at);
  if ((d.kind === "refused" || d.kind === "unknown" || d.kind === "timeout") && classifyHost(t.host).kind === "name") {
    const [a, aaaa] = await Promise.all([queryAddresses(doh, dohUrl, t.host, "A"), queryAddresses(doh, dohUrl, t.host, "AAAA")]);
    if (a.kind === "none" && aaaa.kind === "none") {
      return {
        ...d, kind: "dns" as const, problem: `${t.host} has no A or AAAA record`,
        fix: t.source === "fallback"
          ? `publish SRV records (_xmpp-server._tcp / _xmpps-server._tcp) for the domain, or A/AAAA records for ${t.host}`
          : `publish A/AAAA records for ${t.host}, or correct the SRV record that names it`,
      };
    }
  }
  return d;
}

async function openStream(conn: Conn, from: string, to: string) {
  await conn.write(streamHeader({ from, to, version: "1.0" }));
  const header = await conn.header();
  const id = header.id;
  if (!id) return { ok: false, detail: "the peer's stream header has no id", condition: "invalid-xml" };
  // Pre-1.0 peers (XEP-0238 type 1) send no features: dialback goes ahead without them.
  if (header.version !== "1.0") return { ok: true, detail: `stream ${id} (pre-XMPP-1.0 peer, no features)`, value: { id, features: undefined } };
  const el = await conn.nextElement();
  if (el.name === "stream:error") {
    const cond = el.children.find((c): c is Element => typeof c !== "string")?.name ?? "undefined-condition";
    return { ok: false, detail: "the peer answered with a stream error", condition: cond };
  }
  if (el.name !== "stream:features") return { ok: false, detail: `expected <stream:features/>, got <${el.name}/>`, condition: "bad-format" };
  const names = el.children.filter((c): c is Element => typeof c !== "string").map((c) => c.name);
  return { ok: true, detail: `stream ${id}, features: ${names.join(", ") || "none"}`, value: { id, features: el } };
}

/**
 * The probe's socket, read with the edge's own XML stream layer (src/xml): the same restricted-XML
 * checks and size/depth limits as any peer stream, so a hostile peer cannot make it buffer without bound.
 */
export class Conn {
  #socket: Socket;
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #xml: StreamReader;
  #events: StreamEvent[] = [];

  constructor(t: Target, limits: EdgeConfig["limits"]) {
    this.#socket = connect({ hostname: t.host, port: t.port }, { secureTransport: t.directTls ? "on" : "starttls", allowHalfOpen: false });
    this.#reader = this.#socket.readable.getReader();
    this.#writer = this.#socket.writable.getWriter();
    this.#xml = new StreamReader(limits);
  }

  async opened(): Promise<void> {
    await this.#socket.opened;
  }

  async write(s: string): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(s));
  }

  async startTls(expectedServerHostname: string): Promise<void> {
    this.#reader.releaseLock();
    this.#writer.releaseLock();
    // workerd refuses the expectedServerHostname option ("unsupported"): the certificate is checked for
    // the host dialled, as on the edge's own streams (lib/tcp-link.ts).
    void expectedServerHostname;
    this.#socket = this.#socket.startTls();
    this.#reader = this.#socket.readable.getReader();
    this.#writer = this.#socket.writable.getWriter();
    // RFC 6120 §5.4.3.3: a new stream after TLS; the reader starts over.
    this.#xml.reset();
    this.#events = [];
  }

  async #next(): Promise<StreamEvent> {
    for (;;) {
      const e = this.#events.shift();
      if (e) {
        if (e.type === "error") throw Object.assign(new Error(`the peer broke the stream: ${e.error.message}`), { condition: e.error.condition });
        if (e.type === "close") throw Object.assign(new Error("the peer closed the stream"), { condition: "remote-connection-failed" });
        return e;
      }
      const { value, done } = await this.#reader.read();
      if (done) throw Object.assign(new Error("the peer closed the connection"), { condition: "remote-connection-failed" });
      this.#events.push(...this.#xml.feed(value));
    }
  }

  /** The attributes of the peer's stream header. */
  async header(): Promise<Record<string, string>> {
    const e = await this.#next();
    if (e.type !== "open") throw Object.assign(new Error("expected the peer's stream header"), { condition: "bad-format" });
    return e.attrs;
  }

  /** The next complete top-level element. */
  async nextElement(): Promise<Element> {
    const e = await this.#next();
    if (e.type !== "element") throw Object.assign(new Error("expected an element"), { condition: "bad-format" });
    return e.element;
  }

  async close(): Promise<void> {
    try {
      await this.#writer.write(new TextEncoder().encode(streamClose()));
    } catch {
      /* already closed */
    }
    await this.#socket.close().catch(() => undefined);
  }
}

export async function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(message), { condition: "remote-server-timeout" })), ms);
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}
