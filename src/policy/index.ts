// Federation policy (XEP-0238 levels, per-domain rules, knobs): pure model and evaluation.

export * from "./document.js";
export * from "./match.js";
export * from "./evaluate.js";
export * from "./knobs.js";
export * from "./patch.js";
export * from "./view.js";
export * from "./ops.js";
