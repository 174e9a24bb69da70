// The XML declaration (XML 1.0 §2.8 [23]) that may open a stream or a frame: the only processing-
// instruction-like construct RFC 6120 §11 allows, and only as the very first thing.

import { StreamError } from "../errors.js";

/** Checks the text between '<?' and '?>'. RFC 6120 §11.6: UTF-8 is the only encoding. */
export function checkXmlDecl(body: string): void {
  const m =
    /^xml\s+version\s*=\s*(["'])1\.[0-9]+\1(?:\s+encoding\s*=\s*(["'])([A-Za-z][A-Za-z0-9._-]*)\2)?(?:\s+standalone\s*=\s*(["'])(?:yes|no)\4)?\s*$/.exec(
      body,
    );
  if (!m) {
    // A target other than 'xml' (e.g. xml-stylesheet) is a processing instruction (§11.1).
    if (!/^xml(\s|$)/.test(body)) throw new StreamError("restricted-xml", "processing instruction");
    throw new StreamError("not-well-formed", "malformed XML declaration");
  }
  if (m[3] !== undefined && m[3].toLowerCase() !== "utf-8") {
    throw new StreamError("unsupported-encoding", `encoding '${m[3]}'; XMPP uses UTF-8 only`);
  }
}
