// DOM helpers of the console. Every string goes into the page as text (textContent / Text nodes /
// attribute values), never as HTML: peer-controlled values (domains, audit details, stanza text) are
// shown as they are, inert. `peer()` also makes bidi and other control characters visible and cuts
// very long values, so a U+202E in a domain cannot reorder what the operator reads (issue 14).

/** h("p", { class: "x", onclick: fn }, "text", child): an element; strings become Text nodes. */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "value") el.value = v;
    else if (k === "checked") el.checked = Boolean(v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  add(el, children);
  return el;
}

function add(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// Bidi controls (LRE..RLO, LRI..PDI, LRM/RLM/ALM), C0/C1 controls, zero-width and BOM characters.
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/g;
const MAX_SHOWN = 200;

/** A peer-controlled string made safe to read: invisible characters as U+XXXX, at most 200 chars. */
export function visible(s) {
  let t = String(s ?? "").replace(INVISIBLE, (c) => `\u27e8U+${c.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}\u27e9`);
  if (t.length > MAX_SHOWN) t = `${t.slice(0, MAX_SHOWN)}\u2026 (${String(s).length} characters)`;
  return t;
}

/** A peer-controlled value as an isolated text run (<bdi>), full value (made visible) in its title. */
export function peer(s) {
  const full = String(s ?? "");
  const shown = visible(full);
  return h("bdi", { class: "peer", title: shown.length < full.length || shown !== full ? visible(full.slice(0, 2000)) : undefined }, shown);
}

export function table(caption, columns, rows, { empty = "None." } = {}) {
  if (rows.length === 0) return h("p", { class: "empty" }, empty);
  return h(
    "div",
    // Focusable so keyboard users can scroll a wide table (WCAG 2.1.1; axe scrollable-region-focusable).
    { class: "table-wrap", tabindex: 0, role: "region", "aria-label": caption },
    h(
      "table",
      {},
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows),
    ),
  );
}

export const badge = (text, kind) => h("span", { class: `badge ${kind ?? ""}` }, text);

export function when(iso) {
  if (iso === undefined || iso === null) return "\u2014";
  const d = typeof iso === "number" ? new Date(iso) : new Date(iso);
  if (Number.isNaN(d.getTime())) return visible(iso);
  return h("time", { datetime: d.toISOString(), title: d.toISOString() }, d.toLocaleString());
}

/** Keeps keyboard focus across a re-render: the element with the same data-key gets it back. */
export function rerender(container, ...children) {
  const active = document.activeElement;
  const key = active && container.contains(active) ? active.dataset.key : undefined;
  container.replaceChildren(...children.flat());
  if (key) container.querySelector(`[data-key="${CSS.escape(key)}"]`)?.focus();
}

let announcer;
/** Says `text` to screen readers (the page's polite live region) and shows it in `where` if given. */
export function announce(text) {
  announcer ??= document.getElementById("announce");
  if (announcer) announcer.textContent = text;
}

/** A problem (RFC 9457) or other failure as a readable sentence. */
export function describeError(e) {
  if (e && typeof e === "object" && "status" in e) {
    const p = e.body && typeof e.body === "object" ? e.body : {};
    return `${e.status} ${p.title ?? ""}${p.detail ? `: ${p.detail}` : ""}`.trim();
  }
  return String(e?.message ?? e);
}

export const errorBox = (e) => h("p", { class: "error", role: "alert" }, visible(describeError(e)));
