// Delivery of verified inbound stanzas to the operator's application (issue 4).
export * from "./transport.js";
export * from "./signature.js";
export * from "./local-app.js";
export * from "./bounce.js";
export * from "./submit.js";
export * from "./app-stanza.js";
