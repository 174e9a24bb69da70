// Counters and the verification latency histogram fed by sessions (observe), rendered together with
// gauges from the index as Prometheus text for GET /admin/v1/metrics.

import type { MetricEvent } from "../lib/session-rpc.js";
import { LATENCY_BUCKETS, renderPrometheus, type Family } from "./prometheus.js";
import { all, one, type Row } from "./sql.js";
import type { SessionIndex } from "./index-store.js";

/** Bumps of counter series summed in memory (name, labels -> amount), written by Metrics.apply. */
export class MetricSums {
  readonly #sums = new Map<string, [name: string, labels: string, by: number]>();

  add(events: readonly MetricEvent[]): void {
    for (const e of events) {
      if (e.kind === "dialback") this.#bump("dialback_outcomes", `condition=${e.condition}`, 1);
      else if (e.kind === "bounce") this.#bump("bounced_stanzas", `condition=${e.condition}`, 1);
      else if (e.kind === "http-verify") this.#bump("http_verify", `result=${e.result}`, 1);
      else if (e.kind === "verification-latency" && Number.isFinite(e.seconds) && e.seconds >= 0) {
        // Stored per bucket (not cumulative); render() accumulates.
        const le = LATENCY_BUCKETS.find((b) => e.seconds <= b);
        this.#bump("verification_latency_bucket", `le=${le ?? "+Inf"}`, 1);
        this.#bump("verification_latency_sum", "", e.seconds);
        this.#bump("verification_latency_count", "", 1);
      }
    }
  }

  series(): Iterable<[name: string, labels: string, by: number]> {
    return this.#sums.values();
  }

  #bump(name: string, labels: string, by: number): void {
    const key = `${name}\n${labels}`;
    const s = this.#sums.get(key);
    if (s) s[2] += by;
    else this.#sums.set(key, [name, labels, by]);
  }
}

export class Metrics {
  constructor(readonly sql: SqlStorage) {}

  observe(events: readonly MetricEvent[]): void {
    const sums = new MetricSums();
    sums.add(events);
    this.apply(sums);
  }

  /** Writes summed bumps: one statement per series, however many events fed it. */
  apply(sums: MetricSums): void {
    for (const [name, labels, by] of sums.series()) this.#bump(name, labels, by);
  }

  render(index: SessionIndex, policyVersion: number): string {
    const counter = (name: string) => all(this.sql, "SELECT labels, value FROM metrics WHERE name = ? ORDER BY labels", name);
    const labelled = (rows: Row[], key: string) => rows.map((r) => ({ labels: { [key]: String(r.labels).slice(key.length + 1) }, value: Number(r.value) }));
    const scalar = (name: string) => Number(one(this.sql, "SELECT value FROM metrics WHERE name = ? AND labels = ''", name)?.value ?? 0);
    const perBucket = new Map(counter("verification_latency_bucket").map((r) => [String(r.labels).slice(3), Number(r.value)]));
    let cumulative = 0;
    const buckets = [...LATENCY_BUCKETS.map(String), "+Inf"].map((le) => {
      cumulative += perBucket.get(le) ?? 0;
      return { suffix: "_bucket", labels: { le }, value: cumulative };
    });
    const families: Family[] = [
      {
        name: "dialback_edge_sessions",
        help: "Live S2S stream sessions by direction and transport.",
        type: "gauge",
        samples: index.sessionCounts().map((s) => ({ labels: { direction: s.direction, transport: s.transport }, value: s.n })),
      },
      {
        name: "dialback_edge_pairs",
        help: "Domain pairs on live streams by state.",
        type: "gauge",
        samples: index.pairCounts().map((p) => ({ labels: { state: p.state }, value: p.n })),
      },
      {
        name: "dialback_edge_dialback_outcomes_total",
        help: "Dialback outcomes by result or dialback error condition.",
        type: "counter",
        samples: labelled(counter("dialback_outcomes"), "condition"),
      },
      {
        name: "dialback_edge_verification_latency_seconds",
        help: "Receiving role: time from db:result to the Authoritative Server's answer.",
        type: "histogram",
        samples: [...buckets, { suffix: "_sum", value: scalar("verification_latency_sum") }, { suffix: "_count", value: scalar("verification_latency_count") }],
      },
      {
        name: "dialback_edge_bounced_stanzas_total",
        help: "Stanzas bounced to their senders by stanza error condition.",
        type: "counter",
        samples: labelled(counter("bounced_stanzas"), "condition"),
      },
      {
        name: "dialback_edge_http_verify_total",
        help: "Verdicts of the HTTP Authoritative Server (POST /admin/v1/dialback/verify).",
        type: "counter",
        samples: labelled(counter("http_verify"), "result"),
      },
      { name: "dialback_edge_policy_version", help: "Version of the federation policy in force.", type: "gauge", samples: [{ value: policyVersion }] },
    ];
    return renderPrometheus(families);
  }

  #bump(name: string, labels: string, by: number): void {
    this.sql.exec(
      "INSERT INTO metrics (name, labels, value) VALUES (?, ?, ?) ON CONFLICT (name, labels) DO UPDATE SET value = value + excluded.value",
      name, labels, by,
    );
  }
}
