// The public face of the S2S protocol core. Shells (Durable Objects) import from here only.
//
// How a shell drives a stream
// ---------------------------
// 1. Create one `S2SStream` per S2S connection:
//      receiving (the peer connected to us):  new S2SStream({ role: "receiving", policy, transport, now })
//      initiating (we connect to the peer):   new S2SStream({ role: "initiating", policy, transport, now,
//                                                             local, remote }); stream.start(now)
//    `policy` is a PolicyView (src/policy builds one from the ControlPlane's data); `transport` says
//    whether the socket is already TLS and whether STARTTLS is possible.
// 2. Feed every input, with the current time: `handleOpen(attrs)` for the peer's stream header,
//    `handleElement(el)` for each top-level element, `handleClose()` for `</stream:stream>`,
//    `handleTransportClosed()`, `handleTlsEstablished(info)` after a `start-tls` action,
//    `handleVerifyResult(handle, outcome)` for a `verify` action, `handleTimeout(now)` at alarms.
//    Commands: `authenticate(local, remote)`, `sendStanza(el)`, `requestVerify({from,to,id,key})`,
//    `revoke(local, remote)`, `close(condition?)`.
// 3. After each input, `await drive(stream, keys, clock)` (drive.ts): it performs key work
//    (`key` actions) and returns the rest, in order, for the shell to carry out:
//      send        -> serialise (src/xml) and write; `closed` is always the last action
//      start-tls   -> upgrade the socket, then handleTlsEstablished
//      verify      -> Receiving role: send db:verify to the sender's Authoritative Server via a
//                     stream to that authority (RemoteDomain DO: `requestVerify` on its stream),
//                     route the `verify-result` back as handleVerifyResult(handle, outcome)
//      verify-result -> the answer to a requestVerify (on the authority stream)
//      deliver     -> hand the stanza to the local application
//      bounce      -> hand the error stanza to the local sender
//      pair-state / audit -> record (ControlPlane index / audit log)
//      closed      -> close the socket; the stream object is done (all its pairs are gone)
// 4. Arm the Durable Object alarm at `pollTimeout()`; on alarm call `handleTimeout(now)`.
// 5. Hibernation: after draining, store `snapshot()` (JSON) when `revision` changed since the last
//    save (stanza traffic on verified pairs does not change it, so 10,000 pairs cost nothing per
//    stanza); later `S2SStream.restore(snap, deps)` and drain again (key work in flight at snapshot
//    time is requested again).
// Errors: peer faults become stream errors / dialback errors as actions; `EngineUsageError` is
// thrown only when the shell misuses the API (e.g. sendStanza from a domain we do not host).

export { S2SStream, DEFAULT_TIMEOUTS, type S2SStreamOptions, type StreamTimeouts } from "../stream/s2s-stream.js";
export { EngineUsageError, type Phase, type StreamRole } from "../stream/phase.js";
export type {
  Action,
  AuditEvent,
  DialbackCondition,
  Outgoing,
  PairDirection,
  PairStateName,
  VerifyOutcome,
} from "./actions.js";
export {
  DEFAULT_ENGINE_LIMITS,
  LEVEL_RANK,
  certificateValidFor,
  type EngineLimits,
  type FederationLevel,
  type PairFailurePolicy,
  type PeerCertificate,
  type PolicyView,
  type RefusalCondition,
  type RemotePolicy,
  type TlsInfo,
  type TransportInfo,
} from "./ports.js";
export type { StreamSnapshot } from "./snapshot.js";
export { drive, type ShellAction } from "./drive.js";
