// workerd's socket errors (connect(), startTls(), reads) in an operator's terms: DNS, refused,
// timeout, TLS (with the certificate problem), closed, with a sentence saying what to fix (issue 13).
// The platform's messages are terse or opaque: "proxy request failed, cannot connect to the specified
// address" for any address that does not answer, the rustls reason of a TLS failure
// ("invalid peer certificate: UnknownIssuer"), or only "internal error; reference = <id>" when the
// error crossed into JavaScript as an internal one (its text is in workerd's own log).

import { errorMessage } from "./format.js";

export type SocketErrorKind = "dns" | "refused" | "timeout" | "tls" | "closed" | "unknown";

export interface SocketErrorReport {
  kind: SocketErrorKind;
  /** What went wrong, in words. */
  problem: string;
  /** What the operator (or the peer's operator) can do about it. */
  fix: string;
  /** The platform's message, as it was. */
  error: string;
}

/** Where the error happened: opening the TCP connection, the TLS handshake, or later. */
export type SocketStep = "connect" | "tls" | "stream";

const CERT_PROBLEMS: [RegExp, string, string][] = [
  [/UnknownIssuer|unable to get local issuer|self[- ]signed/i, "its certificate is not signed by a publicly trusted CA (self-signed or a private CA)",
    "the peer needs a certificate from a public CA (e.g. Let's Encrypt): connect() trusts public roots only"],
  [/NotValidForName|hostname mismatch|does not match|not valid for/i, "its certificate does not name the host the edge dialled",
    "the certificate must name the host dialled: the SRV target (e.g. xmpp.example.org), not only the XMPP domain"],
  [/Expired|NotValidYet|not yet valid|expired/i, "its certificate is expired or not yet valid", "the peer's operator must renew the certificate"],
  [/BadSignature|UnsupportedSignatureAlgorithm|Revoked|BadEncoding|certificate/i, "its certificate was refused", "the peer needs a valid certificate from a public CA for the host dialled"],
];

/** `target`: host:port dialled, for the sentences. */
export function describeSocketError(err: unknown, step: SocketStep, target?: string): SocketErrorReport {
  const error = errorMessage(err);
  const at = target ? ` ${target}` : "";
  if (/timeout|timed out/i.test(error)) {
    return { kind: "timeout", error, problem: `no answer from${at || " the peer"} in time`, fix: "check that the host is up and that port is open to the Internet (firewall, SRV port)" };
  }
  if (step === "tls" || /TLS|handshake|certificate|UnknownIssuer|NotValidForName/i.test(error)) {
    for (const [re, problem, fix] of CERT_PROBLEMS) {
      if (re.test(error)) return { kind: "tls", error, problem: `TLS with${at || " the peer"} failed: ${problem}`, fix };
    }
    const ref = /internal error; reference = (\w+)/.exec(error)?.[1];
    return {
      kind: "tls", error,
      problem: `TLS with${at || " the peer"} failed${ref ? ` (workerd's log line with reference ${ref} has the reason)` : ""}; usually a certificate that is not publicly trusted or does not name the host`,
      fix: "the peer needs a certificate from a public CA naming the host dialled; with policy level verified the edge falls back to dialback without TLS",
    };
  }
  if (/ENOTFOUND|getaddrinfo|DNS|name (?:or service )?not (?:known|resolved)|no address/i.test(error)) {
    return { kind: "dns", error, problem: `${target ? `${target.replace(/:\d+$/, "")} has` : "the host has"} no address in DNS`, fix: "publish A/AAAA records for the host (or an SRV record pointing at one that has them)" };
  }
  if (/ECONNREFUSED|refused|cannot connect to the specified address|connect(?:ion)? failed/i.test(error)) {
    return { kind: "refused", error, problem: `nothing accepted the connection at${at || " the peer's address"}`, fix: "check that the XMPP server listens on that host and port and that its firewall lets the edge in" };
  }
  if (/closed|reset|lost|EPIPE|disconnected/i.test(error)) {
    return { kind: "closed", error, problem: `the connection${at ? ` to${at}` : ""} was closed by the other side`, fix: "look at the peer's log for why it dropped the connection" };
  }
  return { kind: "unknown", error, problem: `the connection${at ? ` to${at}` : ""} failed: ${error}`, fix: "see the error text; retry the check to tell a transient failure from a lasting one" };
}
