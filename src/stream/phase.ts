// The stream-level state machine (RFC 6120 §4-5), as h11 keeps it: one union, one table of allowed
// transitions, and one function that moves between them. Domain pair states live in
// src/dialback/pairs.ts; this is only about where the stream itself is.
//
// Theory of operation
//   initiating (we opened the connection):
//     idle --start()--> awaiting-header --peer header v1.0--> awaiting-features
//       --<starttls/> sent--> awaiting-proceed --<proceed/>--> tls --handleTlsEstablished--> awaiting-header ...
//       --features done--> open
//       --<auth mechanism='EXTERNAL'/> sent, <success/>--> awaiting-header (restart; ./sasl-initiator.ts)
//     awaiting-header --pre-1.0 header (no version)--> open
//   receiving (the peer opened the connection):
//     awaiting-header --peer header--> open (features sent when v1.0)
//       --<starttls/>--> tls --handleTlsEstablished--> awaiting-header (stream restart, RFC 6120 §5.4.3.3)
//       --SASL <success/> sent--> awaiting-header (stream restart, RFC 6120 §6.4.6; ./sasl.ts)
//   any --> closed (stream error, peer close, transport gone)
// In "open" dialback and stanzas flow; everything else about the stream is settled.

export type StreamRole = "initiating" | "receiving";

export type Phase =
  | { name: "idle" }
  | { name: "awaiting-header" }
  | { name: "awaiting-features" }
  | { name: "awaiting-proceed" }
  | { name: "tls" }
  | { name: "open" }
  | { name: "closed"; by: "us" | "peer" | "transport"; error?: string };

export type PhaseName = Phase["name"];

const ALLOWED: Record<PhaseName, readonly PhaseName[]> = {
  idle: ["awaiting-header", "closed"],
  "awaiting-header": ["awaiting-features", "open", "closed"],
  // awaiting-header: SASL <success/> as initiator (RFC 6120 §6.4.6 restart, ./sasl-initiator.ts).
  "awaiting-features": ["awaiting-proceed", "open", "awaiting-header", "closed"],
  "awaiting-proceed": ["tls", "closed"],
  tls: ["awaiting-header", "closed"],
  open: ["tls", "awaiting-header", "closed"],
  closed: [],
};

/** Thrown when the caller drives the engine wrongly (h11's LocalProtocolError): a bug in the shell. */
export class EngineUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EngineUsageError";
  }
}

export function transition(from: Phase, to: Phase): Phase {
  if (!ALLOWED[from.name].includes(to.name)) {
    throw new EngineUsageError(`stream cannot go from ${from.name} to ${to.name}`);
  }
  return to;
}
