// Audit: GET /admin/v1/audit with filters (kind, domain, time) and the API's cursor for older pages.
// Spoofing attempts and policy refusals are highlighted (a label, not only a colour).

import { api } from "./api.console.js";
import { h, announce, errorBox, peer, visible, when } from "./dom.console.js";

const KINDS = ["spoofing-attempt", "dialback.failed", "pair.revoked", "session.closed", "policy.replaced", "policy.patched", "policy.rule-set", "policy.rule-deleted", "outbound.address-refused", "other"];

/** How an entry is highlighted: spoofing attempts and policy refusals stand out. */
export function severity(e) {
  if (e.kind === "spoofing-attempt") return { cls: "alert", label: "Spoofing attempt" };
  if (e.kind === "dialback.failed" || e.kind === "policy-refusal" || /refus/.test(e.kind)) return { cls: "refusal", label: "Policy refusal" };
  return undefined;
}

export function auditPage(root) {
  const field = (id, label, input) => h("div", { class: "field" }, h("label", { for: id }, label), input);
  const kind = h("select", { id: "audit-kind", name: "kind" }, h("option", { value: "" }, "any kind"), KINDS.map((k) => h("option", { value: k }, k)));
  const domain = h("input", { id: "audit-domain", name: "domain", type: "text", autocomplete: "off", spellcheck: "false" });
  const since = h("input", { id: "audit-since", name: "since", type: "datetime-local", step: 1 });
  const until = h("input", { id: "audit-until", name: "until", type: "datetime-local", step: 1 });
  const rows = h("tbody");
  const status = h("p", { role: "status", id: "audit-status" });
  const more = h("button", { type: "button", id: "audit-more", class: "secondary", hidden: true, onclick: () => page(next) }, "Older entries");
  let next = null;
  let query = "";
  const form = h(
    "form",
    { class: "inline filters", onsubmit: (e) => (e.preventDefault(), apply()) },
    field("audit-kind", "Kind", kind),
    field("audit-domain", "Domain", domain),
    field("audit-since", "From (local time)", since),
    field("audit-until", "To (local time)", until),
    h("button", { type: "submit" }, "Filter"),
    h("button", { type: "reset", class: "secondary", onclick: () => setTimeout(apply) }, "Clear"),
  );
  root.append(
    form,
    status,
    h(
      "div",
      { class: "table-wrap", tabindex: 0, role: "region", "aria-label": "Audit log (scrolls sideways)" },
      h("table", { class: "audit" }, h("caption", {}, "Audit log, newest first"), h("thead", {}, h("tr", {}, ["Time", "Kind", "Actor", "Subject", "Detail"].map((c) => h("th", { scope: "col" }, c)))), rows),
    ),
    more,
  );

  function apply() {
    const q = new URLSearchParams();
    if (kind.value) q.set("kind", kind.value);
    if (domain.value.trim()) q.set("domain", domain.value.trim());
    // datetime-local is the browser's local time; the API takes RFC 3339.
    if (since.value) q.set("since", new Date(since.value).toISOString());
    if (until.value) q.set("until", new Date(until.value).toISOString());
    query = q.toString();
    rows.replaceChildren();
    page(null);
  }

  async function page(cursor) {
    status.textContent = "Loading\u2026";
    try {
      const q = new URLSearchParams(query);
      q.set("limit", "50");
      if (cursor) q.set("cursor", cursor);
      const { body } = await api(`/audit?${q}`);
      rows.append(...body.items.map(row));
      next = body.nextCursor;
      more.hidden = !next;
      const n = rows.children.length;
      status.textContent = n === 0 ? "No entry matches." : `${n} entr${n === 1 ? "y" : "ies"} shown${next ? "; older ones on the next page" : ""}.`;
      announce(status.textContent);
    } catch (e) {
      status.replaceChildren(errorBox(e));
    }
  }

  function row(e) {
    const sev = severity(e);
    const change = e.old !== null || e.new !== null;
    return h(
      "tr",
      { class: sev?.cls, dataset: { kind: e.kind, seq: String(e.seq) } },
      h("td", {}, when(e.at)),
      h("td", {}, sev ? h("strong", { class: "flag" }, `\u26a0 ${sev.label}: `) : null, h("code", {}, visible(e.kind))),
      h("td", {}, peer(e.actor)),
      h("td", {}, e.subject ? peer(e.subject) : "\u2014"),
      h(
        "td",
        { class: "detail" },
        e.detail ? peer(e.detail) : null,
        change ? h("details", {}, h("summary", {}, "Change"), h("pre", {}, visible(JSON.stringify({ old: e.old, new: e.new }, null, 2)).slice(0, 20000))) : null,
      ),
    );
  }

  apply();
  return () => {};
}
