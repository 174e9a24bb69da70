// Policy: the federation policy as a form (global level, allowPermissive, allowlist-only, per-domain
// rules for exact domains and *.domain wildcards, knobs). Saving is PUT /admin/v1/policy with
// If-Match: "<version the form was loaded from>". If someone changed the policy meanwhile the edge
// answers 412 (or 409 on older edges): the console then shows both versions side by side and keeps
// the operator's edits; they choose to save theirs over the new version or to take the new one.

import { api } from "./api.console.js";
import { h, announce, errorBox, visible, when } from "./dom.console.js";

const LEVELS = ["permissive", "verified", "encrypted", "trusted"];

export function policyPage(root) {
  const body = h("div", {}, h("p", { "aria-busy": "true" }, "Loading the policy\u2026"));
  root.append(body);
  let base; // { version, document, updatedAt, updatedBy }
  let rules = []; // [{ pattern, action, level, note }]
  let form;

  async function load(keepDraft) {
    try {
      const { body: p } = await api("/policy");
      base = p;
      if (!keepDraft) draw(p.document);
      return p;
    } catch (e) {
      body.replaceChildren(errorBox(e));
    }
  }

  function select(id, label, options, value) {
    return h("div", { class: "field" }, h("label", { for: id }, label), h("select", { id, name: id }, options.map(([v, t]) => h("option", { value: v, selected: v === value }, t))));
  }
  function check(id, label, value, help) {
    return h("div", { class: "field check" }, h("input", { id, name: id, type: "checkbox", checked: value, "aria-describedby": help ? `${id}-help` : undefined }), h("label", { for: id }, label), help ? h("p", { id: `${id}-help`, class: "help" }, help) : null);
  }

  function draw(doc) {
    rules = Object.entries(doc.domains ?? {}).map(([pattern, r]) => ({ pattern, action: r.action, level: r.level ?? "", note: r.note ?? "" }));
    const k = doc.knobs ?? {};
    const rulesBox = h("div");
    const status = h("div", { id: "policy-status", role: "status" });
    const conflict = h("div", { id: "policy-conflict" });
    const drawRules = () => {
      rulesBox.replaceChildren(
        rules.length
          ? h(
              "div",
              { class: "table-wrap", tabindex: 0, role: "region", "aria-label": "Per-domain rules" },
              h(
                "table",
                { class: "rules" },
                h("caption", {}, "Per-domain rules (the most specific pattern wins)"),
                h("thead", {}, h("tr", {}, ["Domain or *.domain", "Action", "Level", "Note", ""].map((c) => h("th", { scope: "col" }, c)))),
                h(
                  "tbody",
                  {},
                  rules.map((r, i) =>
                    h(
                      "tr",
                      {},
                      h("td", {}, h("input", { type: "text", value: r.pattern, "aria-label": `Rule ${i + 1} domain or *.domain pattern`, spellcheck: "false", oninput: (e) => (r.pattern = e.target.value) })),
                      h("td", {}, h("select", { "aria-label": `Rule ${i + 1} action`, onchange: (e) => (r.action = e.target.value) }, ["allow", "deny"].map((a) => h("option", { value: a, selected: a === r.action }, a)))),
                      h("td", {}, h("select", { "aria-label": `Rule ${i + 1} level`, onchange: (e) => (r.level = e.target.value) }, [["", "(global level)"], ...LEVELS.map((l) => [l, l])].map(([v, t]) => h("option", { value: v, selected: v === r.level }, t)))),
                      h("td", {}, h("input", { type: "text", value: r.note, maxlength: 500, "aria-label": `Rule ${i + 1} note`, oninput: (e) => (r.note = e.target.value) })),
                      h("td", {}, h("button", { type: "button", class: "secondary small", "aria-label": `Remove rule ${i + 1} (${visible(r.pattern)})`, onclick: () => (rules.splice(i, 1), drawRules()) }, "Remove")),
                    ),
                  ),
                ),
              ),
            )
          : h("p", { class: "empty" }, "No per-domain rules: the global level applies to every peer."),
        h("button", { type: "button", class: "secondary", onclick: () => (rules.push({ pattern: "", action: "allow", level: "", note: "" }), drawRules(), rulesBox.querySelector("tbody tr:last-child input")?.focus()) }, "Add rule"),
      );
    };
    drawRules();
    form = h(
      "form",
      { id: "policy-form", onsubmit: (e) => (e.preventDefault(), save(status, conflict)) },
      h("p", { class: "meta", id: "policy-version" }, `Version ${base.version}`, base.updatedAt ? [", changed ", when(base.updatedAt), " by ", visible(base.updatedBy)] : ", never changed"),
      base.warnings?.length ? h("ul", { class: "warnings" }, base.warnings.map((w) => h("li", {}, visible(w)))) : null,
      h(
        "fieldset",
        {},
        h("legend", {}, "Global"),
        select("level", "Default level (XEP-0238)", LEVELS.map((l) => [l, l]), doc.level),
        check("allowPermissive", "Allow permissive (unverified) federation", doc.allowPermissive, "Any domain can be spoofed at level permissive."),
        check("allowlistOnly", "Allowlist only: federate only with domains an allow rule matches", doc.allowlistOnly),
      ),
      h("fieldset", {}, h("legend", {}, "Rules"), rulesBox),
      h(
        "fieldset",
        {},
        h("legend", {}, "Knobs"),
        select("onPairFailure", "When one pair fails verification", [["keep-stream", "keep the stream for other pairs"], ["close-stream", "close the stream"]], k.onPairFailure ?? "keep-stream"),
        check("bidi", "Offer and request bidirectional streams (XEP-0288)", k.bidi ?? true),
        h("div", { class: "field" }, h("label", { for: "maxPairsPerStream" }, "Verified pairs per stream at most"), h("input", { id: "maxPairsPerStream", name: "maxPairsPerStream", type: "number", min: 1, max: 1000000, required: true, value: String(k.maxPairsPerStream ?? 10000) })),
      ),
      h("button", { type: "submit" }, "Save policy"),
      status,
      conflict,
    );
    body.replaceChildren(form);
  }

  /** The document the form describes (knobs the form does not show are kept as loaded). */
  function fromForm() {
    const v = (id) => form.querySelector(`#${id}`);
    const domains = {};
    for (const r of rules) {
      if (!r.pattern.trim()) continue;
      domains[r.pattern.trim()] = { action: r.action, ...(r.level && r.action === "allow" ? { level: r.level } : {}), ...(r.note ? { note: r.note } : {}) };
    }
    return {
      level: v("level").value,
      allowPermissive: v("allowPermissive").checked,
      allowlistOnly: v("allowlistOnly").checked,
      domains,
      knobs: { ...base.document.knobs, onPairFailure: v("onPairFailure").value, bidi: v("bidi").checked, maxPairsPerStream: Number(v("maxPairsPerStream").value) },
    };
  }

  async function save(status, conflict, overVersion) {
    const mine = fromForm();
    const version = overVersion ?? base.version;
    status.className = "";
    status.textContent = "Saving\u2026";
    try {
      const r = await api("/policy", { method: "PUT", body: mine, headers: { "if-match": `"${version}"` }, accept: [409, 412] });
      if (r.status === 409 || r.status === 412) {
        status.textContent = "";
        const theirs = await load(true);
        showConflict(conflict, status, mine, theirs, version);
        return;
      }
      const revoked = r.body.enforcement?.revoked?.length ?? 0;
      await load(false);
      const st = document.getElementById("policy-status");
      st.textContent = `Saved as version ${r.body.version}.${revoked ? ` ${revoked} pair(s) the new policy refuses were revoked.` : ""}`;
      announce(st.textContent);
    } catch (e) {
      status.className = "error";
      status.replaceChildren(errorBox(e));
    }
  }

  function showConflict(box, status, mine, theirs, loaded) {
    const a = JSON.stringify(mine, null, 2);
    const b = JSON.stringify(theirs.document, null, 2);
    const keep = h("button", { type: "button", onclick: () => (box.replaceChildren(), save(status, box, theirs.version)) }, `Save mine over version ${theirs.version}`);
    box.replaceChildren(
      h(
        "section",
        { class: "conflict", role: "alert", "aria-labelledby": "conflict-title" },
        h("h2", { id: "conflict-title" }, "Someone else changed the policy"),
        h("p", {}, `Version ${theirs.version} was saved `, when(theirs.updatedAt), ` by ${visible(theirs.updatedBy)} after you loaded version ${loaded}. Nothing of yours was saved, and nothing is lost: compare, then choose.`),
        h("ul", { class: "differences" }, differences(mine, theirs.document).map((d) => h("li", {}, visible(d)))),
        h(
          "div",
          { class: "versions" },
          h("figure", {}, h("figcaption", {}, "Yours (not saved)"), h("pre", { class: "mine", tabindex: 0, "aria-label": "Your version" }, a)),
          h("figure", {}, h("figcaption", {}, `Theirs (version ${theirs.version}, in force)`), h("pre", { class: "theirs", tabindex: 0, "aria-label": "Their version" }, b)),
        ),
        h("div", { class: "actions" }, keep, h("button", { type: "button", class: "secondary", onclick: () => (box.replaceChildren(), draw(theirs.document), announce(`Loaded version ${theirs.version}`)) }, "Discard mine, edit theirs")),
      ),
    );
    keep.focus();
  }

  load(false);
  return () => {};
}

/** Top-level fields and rules that differ, as sentences. */
export function differences(mine, theirs) {
  const out = [];
  const s = (v) => (v === undefined ? "(none)" : JSON.stringify(v));
  for (const k of ["level", "allowPermissive", "allowlistOnly"]) if (s(mine[k]) !== s(theirs[k])) out.push(`${k}: yours ${s(mine[k])}, theirs ${s(theirs[k])}`);
  const patterns = new Set([...Object.keys(mine.domains ?? {}), ...Object.keys(theirs.domains ?? {})]);
  for (const p of [...patterns].sort()) {
    const [x, y] = [mine.domains?.[p], theirs.domains?.[p]];
    if (s(x) !== s(y)) out.push(`rule ${p}: yours ${s(x)}, theirs ${s(y)}`);
  }
  for (const k of new Set([...Object.keys(mine.knobs ?? {}), ...Object.keys(theirs.knobs ?? {})])) {
    if (s(mine.knobs?.[k]) !== s(theirs.knobs?.[k])) out.push(`knobs.${k}: yours ${s(mine.knobs?.[k])}, theirs ${s(theirs.knobs?.[k])}`);
  }
  return out.length ? out : ["The documents are the same; only the version moved."];
}
