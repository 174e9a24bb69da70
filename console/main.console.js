// The console's shell: sign-in, navigation between pages (#overview, #peers, #policy, #audit,
// #check), and the page lifecycle (each page returns a function that stops its live refresh).

import { api, auth, ApiError } from "./api.console.js";
import { h, announce, describeError, visible } from "./dom.console.js";
import { overviewPage } from "./overview.console.js";
import { peersPage } from "./peers.console.js";
import { policyPage } from "./policy.console.js";
import { auditPage } from "./audit.console.js";
import { selfCheckPage, selfCheckAvailable } from "./selfcheck.console.js";

const PAGES = {
  overview: { title: "Overview", render: overviewPage },
  peers: { title: "Peers", render: peersPage },
  policy: { title: "Policy", render: policyPage },
  audit: { title: "Audit log", render: auditPage },
  check: { title: "Self-check", render: selfCheckPage },
};

/** How often live pages poll the API (ms); ?refresh= is not read: nothing comes from the URL. */
export const REFRESH_MS = 2000;

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const signOutButton = document.getElementById("signout");
let stop = () => {};

function signInForm(message) {
  const input = h("input", { id: "token", name: "token", type: "password", autocomplete: "off", required: true, spellcheck: "false", "aria-describedby": "token-help" });
  const status = h("p", { id: "signin-status", role: "alert", class: message ? "error" : "" }, message ?? "");
  const form = h(
    "form",
    { class: "signin", method: "post", action: "#", onsubmit: (e) => submit(e) },
    h("h1", {}, "Sign in"),
    h("p", { id: "token-help" }, "The admin token (ADMIN_TOKEN) of this edge. It is kept in this tab only (sessionStorage) and sent in the Authorization header."),
    h("label", { for: "token" }, "Admin token"),
    input,
    h("button", { type: "submit" }, "Sign in"),
    status,
  );
  async function submit(e) {
    e.preventDefault();
    const token = input.value.trim();
    status.className = "";
    status.textContent = "Checking\u2026";
    try {
      await api("/policy", { token });
      auth.signIn(token);
      input.value = "";
      start();
    } catch (err) {
      status.className = "error";
      status.textContent = err instanceof ApiError && err.status === 401 ? "The edge refused this token." : `Sign-in failed: ${visible(describeError(err))}`;
      input.focus();
    }
  }
  stop();
  stop = () => {};
  nav.hidden = true;
  signOutButton.hidden = true;
  document.title = "Sign in \u2014 dialback-edge console";
  main.replaceChildren(form);
  input.focus();
}

async function start() {
  nav.hidden = false;
  signOutButton.hidden = false;
  // The self-check page is offered only when the edge has GET /admin/v1/check.
  document.getElementById("nav-check").hidden = !(await selfCheckAvailable());
  route();
}

function route() {
  if (!auth.token()) return signInForm();
  const name = location.hash.slice(1).split("/")[0] || "overview";
  const page = PAGES[name] ?? PAGES.overview;
  stop();
  for (const a of nav.querySelectorAll("a")) {
    if (a.dataset.page === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  document.title = `${page.title} \u2014 dialback-edge console`;
  const section = h("section", { "aria-labelledby": "page-title" }, h("h1", { id: "page-title" }, page.title));
  main.replaceChildren(section);
  stop = page.render(section, { refreshMs: REFRESH_MS }) ?? (() => {});
  announce(`${page.title} page`);
}

auth.onUnauthorized = () => {
  auth.signOut();
  signInForm("The edge no longer accepts this token; sign in again.");
};
signOutButton.addEventListener("click", () => {
  auth.signOut();
  signInForm();
});
addEventListener("hashchange", () => {
  route();
  main.focus();
});

if (auth.token()) start();
else signInForm();
