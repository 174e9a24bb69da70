// Peers: every remote domain with its pairs (direction, state, level, via, TLS, last activity) and
// the operator's actions: run the peer check (a step timeline with timings and the failing step's
// explanation), close the peer's streams, revoke one pair. Pairs and sessions refresh live; the
// check's result stays until the next check.

import { all, api, edgeInfo, enc } from "./api.console.js";
import { h, announce, badge, errorBox, peer, rerender, visible, when } from "./dom.console.js";

/** What to do when a check step fails, per step (the edge's detail says what exactly happened). */
const EXPLAIN = {
  policy: "The federation policy refuses this peer: change the rule or the level on the Policy page.",
  resolve: "No address for the peer: check its _xmpp-server._tcp / _xmpps-server._tcp SRV records (or S2S_STATIC_ROUTES), and that DNS-over-HTTPS answers.",
  connect: "No TCP connection to any target: the peer's server is down, a firewall drops the port, or the address refuses S2S.",
  "stream-open": "The peer accepted the connection but did not answer with an XMPP stream header: it may not be an XMPP server, or it does not host this domain.",
  starttls: "TLS failed: the certificate does not name the host dialled, is expired, or is not from a public CA (policy needs encryption at this level).",
  dialback: "The peer did not accept our dialback key: it could not reach this edge's Authoritative Server, or it refuses our domain.",
};

/** How long a peer's policy level and attempts are reused while its pairs stay the same (ms). */
const DETAIL_MS = 10_000;

export function peersPage(root, { refreshMs }) {
  const list = h("div", { "aria-live": "off" });
  const checkOut = h("div", { id: "check-result", "aria-live": "polite" });
  const domainInput = h("input", { id: "check-domain", name: "domain", type: "text", required: true, autocomplete: "off", spellcheck: "false", placeholder: "example.org" });
  const fromSelect = h("select", { id: "check-from", name: "from" });
  const status = h("p", { role: "status", class: "action-status" });
  edgeInfo().then((i) => fromSelect.replaceChildren(...(i.domains ?? []).map((d) => h("option", { value: d }, visible(d)))), () => {});
  const form = h(
    "form",
    { class: "inline", onsubmit: (e) => (e.preventDefault(), runCheck(domainInput.value.trim(), fromSelect.value)) },
    h("div", { class: "field" }, h("label", { for: "check-domain" }, "Peer domain"), domainInput),
    h("div", { class: "field" }, h("label", { for: "check-from" }, "As hosted domain"), fromSelect),
    h("button", { type: "submit" }, "Run peer check"),
  );
  root.append(
    h("section", { "aria-labelledby": "peers-live" }, h("h2", { id: "peers-live" }, "Remote domains on live streams"), status, list),
    h("section", { "aria-labelledby": "peers-check" }, h("h2", { id: "peers-check" }, "Peer check"), h("p", {}, "Runs each step towards an outbound stream (policy, resolve, connect, stream, STARTTLS, dialback), timed, on a connection of its own."), form, checkOut),
  );

  async function runCheck(domain, from) {
    if (!domain) return;
    domainInput.value = domain;
    checkOut.replaceChildren(h("p", { "aria-busy": "true" }, "Checking ", peer(domain), "\u2026"));
    try {
      const { body } = await api(`/peers/${enc(domain)}/check`, { method: "POST", body: from ? { from } : {} });
      checkOut.replaceChildren(timeline(body));
      announce(`Peer check of ${visible(domain)}: ${body.ok ? "dialback succeeded" : "failed"}`);
    } catch (e) {
      checkOut.replaceChildren(errorBox(e));
    }
  }

  async function act(what, fn) {
    status.className = "action-status";
    status.textContent = `${what}\u2026`;
    try {
      const r = await fn();
      status.textContent = `${what}: done${r ? `. ${r}` : ""}`;
      tick();
    } catch (e) {
      status.className = "action-status error";
      status.textContent = `${what}: ${visible(e.body?.detail ?? e.message)}`;
    }
  }

  let stopped = false;
  const details = new Map();
  async function tick() {
    try {
      const [pairs, sessions] = await Promise.all([all("/pairs"), all("/sessions")]);
      if (stopped) return;
      const byId = new Map(sessions.map((s) => [s.id, s]));
      const remotes = [...new Set([...pairs.map((p) => p.remote), ...sessions.filter((s) => s.peer && !s.id.startsWith("authority:")).map((s) => s.peer)])].sort();
      // Per-peer policy level and last attempts (verification latency, last activity): fetched for a new
      // peer or a changed pair list, else at most every DETAIL_MS, so many peers do not mean many calls.
      const now = Date.now();
      await Promise.all(
        remotes.slice(0, 100).map(async (d) => {
          const sig = pairs.filter((p) => p.remote === d).map((p) => `${p.sessionId}|${p.local}|${p.direction}|${p.state}`).join(",");
          const had = details.get(d);
          if (had && had.sig === sig && now - had.at < DETAIL_MS) return;
          try {
            details.set(d, { sig, at: now, body: (await api(`/peers/${enc(d)}`)).body });
          } catch {
            /* shown as unknown */
          }
        }),
      );
      if (stopped) return;
      const sections = remotes.map((d) => peerSection(d, pairs.filter((p) => p.remote === d), sessions.filter((s) => s.peer === d || pairs.some((p) => p.remote === d && p.sessionId === s.id)), byId, details.get(d)?.body));
      rerender(list, sections.length ? sections : [h("p", { class: "empty" }, "No remote domain has a live stream.")]);
    } catch (e) {
      if (!stopped) rerender(list, errorBox(e));
    }
  }

  function peerSection(domain, pairs, sessions, byId, detail) {
    const level = detail?.policy?.level;
    const attempts = [...(detail?.inbound ?? []), ...(detail?.outbound ?? [])];
    // The pair record says how it is authenticated (GET /pairs: via); null while the index has not heard.
    const via = (p) => (p.via === "sasl-external" ? "SASL EXTERNAL" : p.via === "dialback" ? "dialback" : "\u2014");
    // Verification latency per direction: the newest attempt whose stream timed it (claim to verdict).
    const latency = (dir) => {
      const a = (detail?.[dir] ?? []).find((x) => typeof x.latencyMs === "number");
      return a ? `${dir} ${a.latencyMs} ms` : `${dir} \u2014`;
    };
    const last = [...pairs.map((p) => Date.parse(p.updatedAt)), ...attempts.map((a) => Date.parse(a.at))].filter(Number.isFinite);
    const key = `peer-${domain}`;
    const rows = pairs.map((p) => {
      const s = byId.get(p.sessionId);
      const label = `${p.local} ${p.direction === "inbound" ? "\u2190" : "\u2192"} ${p.remote}`;
      return h(
        "tr",
        { dataset: { pair: `${p.local}|${p.remote}|${p.direction}` } },
        h("td", {}, peer(p.local)),
        h("td", {}, p.direction === "inbound" ? "\u2190 inbound" : "\u2192 outbound"),
        h("td", {}, badge(p.state, p.state === "valid" ? "good" : p.state === "pending" ? "warn" : "bad"), p.condition ? [" ", visible(p.condition)] : null),
        h("td", {}, level ?? "\u2014"),
        h("td", {}, via(p)),
        h("td", {}, s ? (s.tls ? (s.tlsAuthenticated ? "TLS, certificate verified" : "TLS") : "none") : "\u2014"),
        h("td", {}, when(p.updatedAt)),
        h(
          "td",
          {},
          h(
            "button",
            {
              type: "button",
              class: "danger small",
              dataset: { key: `revoke-${p.local}-${p.remote}-${p.direction}-${p.sessionId}` },
              "aria-label": `Revoke ${visible(label)}`,
              onclick: () => {
                if (confirm(`Revoke the pair ${visible(p.local)} / ${visible(p.remote)} on every stream? Queued stanzas bounce; a stream left with no pair closes.`)) {
                  act(`Revoke ${visible(label)}`, async () => {
                    const r = await api(`/pairs/${enc(p.local)}/${enc(p.remote)}`, { method: "DELETE" });
                    return `${r.body.revoked.length} revoked${r.body.failed.length ? `, ${r.body.failed.length} sessions did not answer` : ""}`;
                  });
                }
              },
            },
            "Revoke",
          ),
        ),
      );
    });
    const ids = [...new Set([...sessions.map((s) => s.id), ...pairs.map((p) => p.sessionId)])];
    return h(
      "article",
      { class: "peer-card", "aria-labelledby": key, dataset: { domain } },
      h("h3", { id: key }, peer(domain)),
      h(
        "p",
        { class: "meta" },
        `Policy: ${level ?? "unknown"}${detail?.policy?.denied ? " (denied)" : ""}. Streams: ${ids.length}. Last activity: `,
        last.length ? when(Math.max(...last)) : "\u2014",
        ". Verification latency: ",
        h("span", { class: "latency", dataset: { latency: domain } }, `${latency("inbound")}, ${latency("outbound")}`),
      ),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", dataset: { key: `check-${domain}` }, "aria-label": `Run peer check for ${visible(domain)}`, onclick: () => runCheck(domain, fromSelect.value) }, "Run peer check"),
        h(
          "button",
          {
            type: "button",
            class: "danger",
            dataset: { key: `close-${domain}` },
            "aria-label": `Close streams with ${visible(domain)}`,
            disabled: ids.length === 0,
            onclick: () => {
              if (confirm(`Close ${ids.length} stream(s) with ${visible(domain)} (stream error policy-violation)?`)) {
                act(`Close streams with ${visible(domain)}`, async () => {
                  // DELETE /peers/{domain}/sessions (one audit entry); per session on an edge without it.
                  const r = await api(`/peers/${enc(domain)}/sessions`, { method: "DELETE", accept: [404, 405] });
                  if (r.status < 400) return `${r.body.closed.length} closed, ${r.body.revoked.length} pair(s) revoked on shared streams${r.body.failed.length ? `, ${r.body.failed.length} failed` : ""}`;
                  for (const id of ids) await api(`/sessions/${enc(id)}`, { method: "DELETE", accept: [404] });
                  return `${ids.length} closed`;
                });
              }
            },
          },
          "Close streams",
        ),
      ),
      pairs.length
        ? h(
            "div",
            { class: "table-wrap", tabindex: 0, role: "region", "aria-label": `Domain pairs with ${visible(domain)}` },
            h(
              "table",
              {},
              h("caption", {}, "Domain pairs with ", peer(domain)),
              h("thead", {}, h("tr", {}, ["Local", "Direction", "State", "Level", "Via", "TLS", "Last change", "Action"].map((c) => h("th", { scope: "col" }, c)))),
              h("tbody", {}, rows),
            ),
          )
        : h("p", { class: "empty" }, "No domain pair on its streams yet."),
    );
  }

  tick();
  const timer = setInterval(tick, refreshMs);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

/** The peer check's steps as an ordered timeline; the failing step says what to do. */
export function timeline(result) {
  const total = result.steps.reduce((a, s) => a + s.ms, 0);
  return h(
    "div",
    { class: `check ${result.ok ? "ok" : "failed"}` },
    h("p", { class: "verdict" }, result.ok ? badge("federates", "good") : badge("fails", "bad"), " ", peer(result.domain), " as ", peer(result.from), ` \u2014 ${total.toFixed(0)} ms in ${result.steps.length} steps`),
    h(
      "ol",
      { class: "timeline", "aria-label": "Check steps" },
      result.steps.map((s) =>
        h(
          "li",
          { class: s.ok ? "ok" : "failed", dataset: { step: s.step } },
          h("span", { class: "step" }, s.step),
          " ",
          badge(s.ok ? "ok" : "failed", s.ok ? "good" : "bad"),
          h("span", { class: "ms" }, ` ${s.ms} ms`),
          h("p", { class: "detail" }, visible(s.detail), s.condition ? [" (", visible(s.condition), ")"] : null),
          s.ok ? null : h("p", { class: "explain" }, EXPLAIN[s.step] ?? ""),
        ),
      ),
    ),
  );
}
