// What the engine asks of the world, as plain synchronous interfaces. The shell (a Durable Object)
// builds these from data it has already loaded (policy from the ControlPlane, transport facts from
// the socket), so the engine never waits on I/O to decide anything.

import type { Domain } from "../types.js";
import type { KeyFormula } from "../dialback/keys.js";
import { dnsIdMatches } from "../tls/identity.js";

/**
 * XEP-0238 §1 federation levels, weakest first. "verified": Server Dialback only; "encrypted": TLS
 * (any certificate) plus dialback; "trusted": TLS with a certificate valid for the peer's domain.
 */
export type FederationLevel = "verified" | "encrypted" | "trusted";

export const LEVEL_RANK: Record<FederationLevel, number> = { verified: 0, encrypted: 1, trusted: 2 };

/** XEP-0220 §2.4 conditions a policy refusal is reported with. */
export type RefusalCondition = "forbidden" | "policy-violation" | "not-authorized";

/**
 * What to do with the stream when one domain pair on it fails verification (seed 001, XEP-0220
 * §2.1.2): "keep-stream" isolates the failed pair (dialback error `forbidden` to peers that
 * advertised dialback errors); "close-stream" ends the whole stream as RFC 3920 did.
 * Peers that did not advertise dialback errors always get `type='invalid'` plus a stream close.
 */
export type PairFailurePolicy = "keep-stream" | "close-stream";

/** The policy for one remote domain (or for a peer whose domain is not known yet). */
export type RemotePolicy =
  | {
      allowed: false;
      /** Dialback error condition (XEP-0220 §2.4) / bounce condition used when refusing. */
      condition: RefusalCondition;
      /** Free text for the audit log; never sent to the peer. */
      reason?: string;
    }
  | {
      allowed: true;
      /** The weakest XEP-0238 level accepted for this remote; "encrypted"/"trusted" require TLS. */
      minLevel: FederationLevel;
      /** XEP-0288: offer (receiving) / request (initiating) bidirectional streams with this peer. */
      bidi: boolean;
      onPairFailure: PairFailurePolicy;
    };

/** Limits the engine enforces per stream. */
export interface EngineLimits {
  /** XEP-0220 multiplexing: pending dialback requests (any direction) one stream may have. */
  maxPendingPerStream: number;
  /** Stanzas queued per outbound domain pair while its dialback is pending (then resource-constraint). */
  maxQueuedPerPair: number;
  /** Outstanding db:verify requests one (authority) stream may carry. */
  maxOutstandingVerifies: number;
  /**
   * XEP-0220 §3 multiplexing: domain pairs (pending or verified, both directions) one stream may
   * carry. A request for one more gets a `resource-constraint` dialback error; existing pairs stay.
   */
  maxPairsPerStream: number;
  /**
   * Inbound domain pairs whose verification failed (the authority said invalid, could not be
   * reached, or did not answer in time) one stream may have before it is closed with the stream
   * error `policy-violation` (issue 10.8, MAX_FAILED_PAIRS). Up to this many, each failed pair gets
   * its dialback error and the verified pairs stay (seed 001); the one past it ends the stream, so
   * a spoofer cannot make us send db:verify to its victim without end.
   */
  maxFailedPairsPerStream: number;
  /**
   * RFC 6120 §13.12: the largest stanza (bytes of UTF-8) the shell's reader accepts on this stream.
   * The engine never sees bytes; the shell passes this to its StreamReader / FrameReader.
   * Undefined: the deployment's MAX_STANZA_BYTES (EdgeConfig.limits.maxStanzaBytes).
   */
  maxStanzaBytes?: number;
  /**
   * XEP-0185 key formulas accepted when checking a presented key; carried on each `key` check
   * action and honoured by drive(). Undefined: those the shell's DialbackKeys was built with.
   */
  keyFormulas?: readonly KeyFormula[];
}

export const DEFAULT_ENGINE_LIMITS: EngineLimits = {
  maxPendingPerStream: 1000,
  maxQueuedPerPair: 1000,
  maxOutstandingVerifies: 100000,
  maxPairsPerStream: 10_000,
  maxFailedPairsPerStream: 5,
};

/**
 * The federation policy as the engine sees it. Implemented by src/policy (policy helper). Must be
 * synchronous and cheap: it is consulted on every db:result and at stream negotiation.
 */
export interface PolicyView {
  /** True when `domain` is one of our hosted domains (RFC 6120 §4.9.3.6 host-unknown otherwise). */
  isHosted(domain: Domain): boolean;
  /**
   * The policy for a remote domain. `undefined` asks for the default, used before the peer has said
   * who it is (a stream header without `from`), e.g. to decide whether STARTTLS is `<required/>`.
   */
  forRemote(remote: Domain | undefined): RemotePolicy;
  /** Per-stream limits. */
  limits(): EngineLimits;
}

/** The peer's certificate as the TLS layer judged it. */
export interface PeerCertificate {
  /** "valid": chains to a trusted root (XEP-0178); "untrusted": self-signed/unknown CA; "none". */
  status: "valid" | "untrusted" | "none";
  /** DNS names (dNSName / SRVName / XmppAddr) the certificate is issued for; wildcards as "*.x". */
  names: string[];
}

/** Facts about the transport under the stream, given by the shell at construction. */
export interface TransportInfo {
  /** Already encrypted (e.g. wss:// WebSocket, or direct TLS on 5270 / XEP-0368). */
  secure: boolean;
  /** Whether the shell can run STARTTLS on this transport (TCP yes, WebSocket no). */
  canStartTls: boolean;
  /** Present when `secure`: the peer's certificate (for inbound WebSocket there usually is none). */
  peerCertificate?: PeerCertificate;
  /** Present when `secure` and we presented a client certificate: the names it carries (TlsInfo). */
  localNames?: string[];
  /**
   * Receiving role: the hosted domain this connection can only be for, when the shell knows one (the
   * TLS SNI or the gateway listener's only domain, else the deployment's only hosted domain). Used
   * for a pre-XMPP-1.0 stream header without 'to' (XEP-0238 type 1, e.g. jabberd2 without a
   * certificate); a header that names a domain is always taken at its word.
   */
  impliedLocal?: Domain;
}

/** Given to `handleTlsEstablished` once STARTTLS completed. */
export interface TlsInfo {
  peerCertificate: PeerCertificate;
  /**
   * Names our own (client) certificate on this connection carries, when we presented one (the
   * gateway egress does): XEP-0178 SASL EXTERNAL as initiator needs it to name our domain.
   */
  localNames?: string[];
}

/** True when `cert` is a CA-valid certificate naming `domain` (RFC 6125 §6.4, one-label wildcards). */
export function certificateValidFor(cert: PeerCertificate | undefined, domain: Domain): boolean {
  if (!cert || cert.status !== "valid") return false;
  return cert.names.some((raw) => dnsIdMatches(raw.toLowerCase().replace(/\.$/, ""), domain));
}
