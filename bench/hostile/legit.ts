// What a legitimate peer sees, measured the same way idle and under each attack:
//
// ttf  time-to-features through the gateway: TCP connect to 5269 -> the edge's <stream:features/>
//      (GATEWAY_REQUIRE_TLS=false, so the header travels gateway -> WebSocket -> StreamSession);
// vrfy a db:verify round trip on a WebSocket S2S stream (XEP-0468) kept open: the edge as
//      Authoritative Server answering for a key it made (XEP-0185 keys are stateless, so the bench
//      makes the same key from the edge's secret);
// api  POST /api/v1/stanzas -> the stanza in the harness peer's inbox (outbound stream warm).
//
// Each sample has a deadline; a measure whose sample misses it reports "timeout" and stops there.

import { Element } from "ltx";
import { dialbackKey } from "../../test/harness/peer.js";
import { dialTcp, dialWs, FEATURES, NS_DB, tcpHeader, wsOpen, type RawConn } from "./raw.js";
import { EDGE_DOMAIN, GATEWAY_HOST, LEGIT_IP, PEER_DOMAIN, type HostileStack } from "./stack.js";

export const MEASURES = ["ttf", "vrfy", "api"] as const;
export type MeasureName = (typeof MEASURES)[number];
/** Median ms per measure; undefined = a sample timed out. */
export type Figures = Record<MeasureName, number | undefined>;

const SAMPLE_TIMEOUT_MS = 10_000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export class LegitPeer {
  #verifyConn: RawConn | undefined;
  #seq = 0;
  constructor(readonly stack: HostileStack) {}

  async timeToFeatures(): Promise<number | undefined> {
    const t0 = performance.now();
    let conn: RawConn | undefined;
    try {
      conn = await dialTcp(GATEWAY_HOST, 5269, LEGIT_IP, SAMPLE_TIMEOUT_MS);
      conn.write(tcpHeader(PEER_DOMAIN, EDGE_DOMAIN));
      const ok = await conn.waitFor(FEATURES, SAMPLE_TIMEOUT_MS - (performance.now() - t0));
      return ok ? performance.now() - t0 : undefined;
    } catch {
      return undefined;
    } finally {
      conn?.destroy();
    }
  }

  async #verifyStream(): Promise<RawConn | undefined> {
    if (this.#verifyConn && !this.#verifyConn.closed) return this.#verifyConn;
    try {
      const conn = await dialWs(this.stack.wsUrl, LEGIT_IP, SAMPLE_TIMEOUT_MS);
      conn.write(wsOpen(PEER_DOMAIN, EDGE_DOMAIN));
      if (!(await conn.waitFor(FEATURES, SAMPLE_TIMEOUT_MS))) return conn.destroy(), undefined;
      return (this.#verifyConn = conn);
    } catch {
      return undefined;
    }
  }

  /** One db:verify round trip; `answer` records the type the edge gave (valid expected). */
  async verifyRoundTrip(answer?: (type: string) => void): Promise<number | undefined> {
    const t0 = performance.now();
    const conn = await this.#verifyStream();
    if (!conn) return undefined;
    // Timed from the request, on a stream already open (the round trip, not the stream setup).
    const id = `lv${++this.#seq}${Date.now().toString(36)}`;
    const key = dialbackKey(this.stack.edgeSecret, PEER_DOMAIN, EDGE_DOMAIN, id);
    const t1 = performance.now();
    conn.write(`<db:verify xmlns:db='${NS_DB}' from='${PEER_DOMAIN}' to='${EDGE_DOMAIN}' id='${id}'>${key}</db:verify>`);
    const m = await conn.waitFor(new RegExp(`<(?:db:)?verify\\b[^>]*\\bid=['"]${id}['"][^>]*>`), SAMPLE_TIMEOUT_MS - (t1 - t0));
    if (!m) return undefined;
    answer?.(/type=['"](\w+)['"]/.exec(m[0])?.[1] ?? "?");
    return performance.now() - t1;
  }

  async apiToDelivery(): Promise<number | undefined> {
    const id = `la${++this.#seq}${Date.now().toString(36)}`;
    const peer = this.stack.harness.peer;
    const t0 = performance.now();
    const xml = `<message from='bot@${EDGE_DOMAIN}' to='u@${PEER_DOMAIN}' id='${id}' type='chat'><body>legit</body></message>`;
    try {
      const res = await this.stack.api("/api/v1/stanzas", { method: "POST", body: xml, signal: AbortSignal.timeout(SAMPLE_TIMEOUT_MS) });
      await res.arrayBuffer();
      if (res.status !== 202) return undefined;
    } catch {
      return undefined;
    }
    const has = () => peer.inbox.some((e: Element) => e.attrs.id === id);
    while (!has()) {
      const left = SAMPLE_TIMEOUT_MS - (performance.now() - t0);
      if (left <= 0) return undefined;
      await Promise.race([peer.changed(), new Promise((r) => setTimeout(r, Math.min(left, 100)))]);
    }
    // Keep the harness's inbox small: only these probes land there.
    if (peer.inbox.length > 100) peer.inbox.splice(0, peer.inbox.length - 10);
    return performance.now() - t0;
  }

  /**
   * `samples` rounds of the three measures, interleaved (so a burst of load from elsewhere on the
   * machine hits all three alike); the median of each. A measure that times out is not sampled again.
   */
  async measure(samples: number, verifyTypes?: string[]): Promise<Figures> {
    const xs: Record<MeasureName, number[] | undefined> = { ttf: [], vrfy: [], api: [] };
    const take = async (m: MeasureName, f: () => Promise<number | undefined>) => {
      if (!xs[m]) return;
      const x = await f();
      if (x === undefined) xs[m] = undefined;
      else xs[m]!.push(x);
    };
    for (let i = 0; i < samples; i++) {
      await take("ttf", () => this.timeToFeatures());
      await take("vrfy", () => this.verifyRoundTrip((t) => verifyTypes?.push(t)));
      await take("api", () => this.apiToDelivery());
    }
    const med = (m: MeasureName) => (xs[m] ? median(xs[m]!) : undefined);
    return { ttf: med("ttf"), vrfy: med("vrfy"), api: med("api") };
  }

  close(): void {
    this.#verifyConn?.destroy();
  }
}
