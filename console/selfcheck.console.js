// Self-check: GET /admin/v1/check (the deployment self-check, issue 13): each finding with its
// severity and fix sentence. Offered in the navigation only when the edge has the route.

import { api } from "./api.console.js";
import { h, badge, errorBox, visible } from "./dom.console.js";

export async function selfCheckAvailable() {
  try {
    const r = await api("/check", { accept: [404, 405, 501] });
    return r.status < 400;
  } catch {
    return false;
  }
}

const pick = (o, ...keys) => keys.map((k) => o?.[k]).find((v) => v !== undefined && v !== null);

/** The findings of any reasonable shape: { findings: [...] }, { checks: [...] }, or an array. */
function findings(body) {
  if (Array.isArray(body)) return body;
  return pick(body, "findings", "checks", "items", "results") ?? [];
}

export function selfCheckPage(root) {
  const out = h("div", { "aria-busy": "true" }, h("p", {}, "Running the self-check\u2026"));
  const rerun = h("button", { type: "button", onclick: () => run() }, "Run again");
  root.append(h("p", {}, "What the edge finds wrong with its own deployment, and how to fix it."), rerun, out);
  async function run() {
    out.setAttribute("aria-busy", "true");
    try {
      const { body } = await api("/check");
      const list = findings(body);
      const rows = list.map((f) => {
        const sev = String(pick(f, "severity", "level", "status") ?? (f.ok === false ? "error" : "ok"));
        const cls = /error|fail|critical/i.test(sev) ? "bad" : /warn/i.test(sev) ? "warn" : "good";
        return h(
          "li",
          { class: `finding ${cls}` },
          badge(visible(sev), cls),
          " ",
          h("strong", {}, visible(pick(f, "title", "check", "name", "id") ?? "")),
          pick(f, "domain", "subject") ? [" (", visible(pick(f, "domain", "subject")), ")"] : [],
          h("p", {}, visible(pick(f, "message", "detail", "summary") ?? "")),
          pick(f, "fix") ? h("p", { class: "fix" }, h("strong", {}, "Fix: "), visible(f.fix)) : null,
        );
      });
      const c = body && typeof body === "object" ? body.counts : undefined;
      const summary = c ? h("p", { class: "verdict" }, `${c.error ?? 0} error(s), ${c.warning ?? 0} warning(s), ${c.ok ?? 0} ok`) : null;
      out.replaceChildren(...[summary, rows.length ? h("ul", { class: "findings" }, rows) : h("p", {}, "No findings.")].filter(Boolean));
    } catch (e) {
      out.replaceChildren(errorBox(e));
    }
    out.setAttribute("aria-busy", "false");
  }
  run();
  return () => {};
}
