// The console's files (console/), imported as text by wrangler.toml's [[rules]] (type "Text"). Plain
// JavaScript on purpose: TypeScript (allowJs) would otherwise type these imports as the modules the
// browser runs, not as their source text.

import indexHtml from "../../console/index.html";
import css from "../../console/admin.console.css";
import api from "../../console/api.console.js";
import dom from "../../console/dom.console.js";
import main from "../../console/main.console.js";
import overview from "../../console/overview.console.js";
import peers from "../../console/peers.console.js";
import policy from "../../console/policy.console.js";
import audit from "../../console/audit.console.js";
import selfcheck from "../../console/selfcheck.console.js";

/** @type {string} */
export const INDEX_HTML = indexHtml;

/** @type {Record<string, string>} file name under /admin/ -> source text */
export const SOURCES = {
  "admin.console.css": css,
  "api.console.js": api,
  "dom.console.js": dom,
  "main.console.js": main,
  "overview.console.js": overview,
  "peers.console.js": peers,
  "policy.console.js": policy,
  "audit.console.js": audit,
  "selfcheck.console.js": selfcheck,
};
