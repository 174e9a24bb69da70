// The namespace names the edge knows by heart, in one place: the XML layer's (stream, content,
// framing, XML itself) and the protocol's (errors, TLS, dialback, bidi). Everything else is
// resolved from declarations.

/** RFC 6120 §4.8.1: the stream header and stream-level elements (features, error). */
export const NS_STREAM = "http://etherx.jabber.org/streams";
/** RFC 6120 §4.8.3: the content namespace of server-to-server streams. */
export const NS_SERVER = "jabber:server";
/** XEP-0220 §2.1: db:result and db:verify. */
export const NS_DIALBACK = "jabber:server:dialback";
/** RFC 6120 §4.9.3: the condition elements of stream errors. */
export const NS_STREAMS = "urn:ietf:params:xml:ns:xmpp-streams";
/** RFC 6120 §8.3.3: the condition elements of stanza errors (and of XEP-0220 §2.4 dialback errors). */
export const NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";
/** RFC 6120 §5.4: STARTTLS negotiation. */
export const NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls";
/** RFC 6120 §6.4: SASL negotiation. */
export const NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl";
/** XEP-0220 §2.4.2: the stream feature announcing dialback with error handling. */
export const NS_FEATURE_DIALBACK = "urn:xmpp:features:dialback";
/** XEP-0288 §2: the bidi stream feature... */
export const NS_FEATURE_BIDI = "urn:xmpp:features:bidi";
/** ...and the request (XEP-0288 §2.1): two different namespaces (ejabberd #4300/#4375 mixed them up). */
export const NS_BIDI = "urn:xmpp:bidi";
/** RFC 7395 §3.3.2: <open/> and <close/> of client WebSocket streams. */
export const NS_FRAMING = "urn:ietf:params:xml:ns:xmpp-framing";
/** XEP-0468 §2: the same, for server-to-server WebSocket streams. */
export const NS_FRAMING_SERVER = "urn:ietf:params:xml:ns:xmpp-framing-server";
/** Namespaces in XML 1.0 §3: bound to the prefix `xml` without declaration. */
export const NS_XML = "http://www.w3.org/XML/1998/namespace";
/** Namespaces in XML 1.0 §3: the namespace of `xmlns` declarations themselves; never declarable. */
export const NS_XMLNS = "http://www.w3.org/2000/xmlns/";

/**
 * Prefixes whose binding everyone assumes on a server stream (the header declares them); used to
 * make elements standalone when they leave a stream (RFC 7395 §3.3.3 frames, logs, storage).
 */
export const CONVENTIONAL_PREFIXES: Readonly<Record<string, string>> = {
  stream: NS_STREAM,
  db: NS_DIALBACK,
};
