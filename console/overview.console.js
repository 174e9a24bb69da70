// Overview: hosted domains, live streams, pairs by state, verifications and failures per minute,
// bounces. From GET / (hosted domains), /admin/v1/metrics (Prometheus text) and /admin/v1/sessions;
// refreshed every REFRESH_MS. Rates are the change of the counters over the last minute of samples
// taken by this page (the metrics are counters since the ControlPlane started).

import { all, api, edgeInfo } from "./api.console.js";
import { h, badge, errorBox, peer, rerender, table, when } from "./dom.console.js";

/** Prometheus text exposition -> [{ name, labels, value }]. */
export function parseMetrics(text) {
  const out = [];
  for (const line of String(text).split("\n")) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const l of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

const sum = (samples, name, pred = () => true) => samples.filter((s) => s.name === name && pred(s.labels)).reduce((a, s) => a + s.value, 0);

export function overviewPage(root, { refreshMs }) {
  const domains = h("div");
  const figures = h("div", { class: "cards" });
  const streams = h("div");
  const updated = h("p", { class: "updated" });
  root.append(
    h("section", { "aria-labelledby": "ov-domains" }, h("h2", { id: "ov-domains" }, "Hosted domains"), domains),
    h("section", { "aria-labelledby": "ov-figures" }, h("h2", { id: "ov-figures" }, "Federation now"), figures),
    h("section", { "aria-labelledby": "ov-streams" }, h("h2", { id: "ov-streams" }, "Live streams"), streams),
    updated,
  );
  edgeInfo().then(
    (info) => domains.replaceChildren(h("ul", { class: "domains" }, (info.domains ?? []).map((d) => h("li", {}, peer(d))))),
    (e) => domains.replaceChildren(errorBox(e)),
  );

  const history = [];
  let stopped = false;
  async function tick() {
    try {
      const [metrics, sessions] = await Promise.all([api("/metrics"), all("/sessions")]);
      if (stopped) return;
      const m = parseMetrics(metrics.body);
      const now = Date.now();
      const valid = sum(m, "dialback_edge_dialback_outcomes_total", (l) => l.condition === "valid");
      const failed = sum(m, "dialback_edge_dialback_outcomes_total", (l) => l.condition !== "valid");
      const bounced = sum(m, "dialback_edge_bounced_stanzas_total");
      history.push({ at: now, valid, failed, bounced });
      while (history.length > 2 && now - history[1].at >= 60_000) history.shift();
      const first = history[0];
      const minutes = (now - first.at) / 60_000;
      const rate = (k) => (history.length < 2 || minutes <= 0 ? "\u2014" : ((history.at(-1)[k] - first[k]) / Math.max(minutes, 1 / 60)).toFixed(1));
      const pairs = (state) => sum(m, "dialback_edge_pairs", (l) => l.state === state);
      const count = sum(m, "dialback_edge_verification_latency_seconds_count");
      const latency = count > 0 ? `${((sum(m, "dialback_edge_verification_latency_seconds_sum") / count) * 1000).toFixed(0)} ms` : "\u2014";
      const inbound = sessions.filter((s) => s.direction === "inbound").length;
      const card = (label, value, note, key) => h("div", { class: "card", dataset: { metric: key } }, h("dt", {}, label), h("dd", {}, h("span", { class: "figure" }, String(value)), note ? h("span", { class: "note" }, note) : null));
      rerender(
        figures,
        h(
          "dl",
          {},
          card("Streams in", inbound, "", "streams-in"),
          card("Streams out", sessions.length - inbound, "", "streams-out"),
          card("Pairs valid", pairs("valid"), `${pairs("pending")} pending, ${pairs("invalid") + pairs("error")} failed`, "pairs-valid"),
          card("Verifications / min", rate("valid"), `${valid} since start`, "verifications"),
          card("Failures / min", rate("failed"), `${failed} since start`, "failures"),
          card("Bounced stanzas", bounced, byCondition(m), "bounces"),
          card("Verification latency", latency, count ? `mean of ${count}` : "no verification yet", "latency"),
        ),
      );
      rerender(
        streams,
        table(
          "Live S2S streams",
          ["Peer", "Direction", "Transport", "TLS", "Authentication", "Local", "Pairs", "Opened", "Stanzas in / out", "Stream"],
          sessions.map((s) =>
            h(
              "tr",
              { dataset: { session: s.id } },
              // Peer first and the long stream id last: on a phone the table scrolls sideways.
              h("td", {}, s.peer ? peer(s.peer) : "\u2014"),
              h("td", {}, s.direction),
              h("td", {}, s.transport === "websocket" ? "WebSocket" : s.transport === "gateway" ? "gateway (TCP)" : "TCP"),
              h("td", {}, s.tls ? badge("TLS", "good") : badge("plaintext", "warn")),
              h("td", {}, s.tlsAuthenticated ? "certificate (SASL EXTERNAL / trusted)" : "dialback"),
              h("td", {}, s.local ? peer(s.local) : "\u2014"),
              h("td", {}, String(s.pairs)),
              h("td", {}, when(s.openedAt)),
              h("td", {}, `${s.stanzasIn} / ${s.stanzasOut}`),
              h("td", {}, h("code", {}, peer(s.id))),
            ),
          ),
          { empty: "No live streams." },
        ),
      );
      updated.replaceChildren("Updated ", when(now), ` (every ${refreshMs / 1000} s)`);
    } catch (e) {
      if (!stopped) updated.replaceChildren(errorBox(e));
    }
  }
  tick();
  const timer = setInterval(tick, refreshMs);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

function byCondition(m) {
  const parts = m.filter((s) => s.name === "dialback_edge_bounced_stanzas_total" && s.value > 0).map((s) => `${s.labels.condition}: ${s.value}`);
  return parts.length ? parts.join(", ") : "none";
}
