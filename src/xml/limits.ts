// The per-unit and per-element limits of the XML reader, and the defaults of the two per-element
// counts (MAX_ATTRIBUTES, MAX_NAMESPACE_DECLARATIONS). Every limit ends the stream with
// <policy-violation/> at the exact byte, attribute or element that breaks it (RFC 6120 §4.9.3.14).

/**
 * Attributes on one element, namespace declarations included. Prosody and ejabberd send at most 8
 * (their stream headers: xmlns, xmlns:stream, xmlns:db, xml:lang, id, from, to, version), and XMPP
 * payloads a dozen (an XEP-0176 ICE candidate has 11); Woodstox's general-purpose default is 1000.
 */
export const DEFAULT_MAX_ATTRIBUTES = 128;

/**
 * Namespace declarations (xmlns, xmlns:p) on one element. Stream headers carry 3; stanzas declare
 * one namespace per payload element; Atom payloads with extensions a handful.
 */
export const DEFAULT_MAX_NAMESPACE_DECLARATIONS = 32;

export interface ReaderLimits {
  /** RFC 6120 §13.12: bytes of UTF-8 in one unit (the stream header, or one top-level element). */
  maxStanzaBytes: number;
  /** Elements nested in one unit. */
  maxDepth: number;
  /** Attributes on one element (default DEFAULT_MAX_ATTRIBUTES). */
  maxAttributes?: number;
  /** Namespace declarations on one element (default DEFAULT_MAX_NAMESPACE_DECLARATIONS). */
  maxNamespaceDeclarations?: number;
}
