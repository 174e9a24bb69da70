// Prometheus text exposition format 0.0.4: HELP/TYPE lines, then samples with escaped label values.

export interface Sample {
  labels?: Record<string, string>;
  value: number;
  /** Suffix for histograms: _bucket, _sum, _count. */
  suffix?: string;
}

export interface Family {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  samples: Sample[];
}

const esc = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');

export function renderPrometheus(families: Family[]): string {
  const lines: string[] = [];
  for (const f of families) {
    lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = Object.entries(s.labels ?? {});
      const l = labels.length ? `{${labels.map(([k, v]) => `${k}="${esc(v)}"`).join(",")}}` : "";
      lines.push(`${f.name}${s.suffix ?? ""}${l} ${Number.isFinite(s.value) ? s.value : s.value > 0 ? "+Inf" : "NaN"}`);
    }
  }
  return lines.join("\n") + "\n";
}

/** Verification latency buckets, seconds: dialback to a healthy authority is 1-3 round trips. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;
