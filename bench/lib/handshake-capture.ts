// Reads one new-peer handshake out of a loopback packet capture (bench/interop-handshake.bench.ts):
// when the trigger reached the sender, when the stanza reached the receiver, and how long the edge (or
// the Prosody in its place) took between a packet reaching it and its answer leaving it, per step.
// Times are kernel timestamps on the receiving server's side of each delay relay.

export interface Packet { t: number; src: string; sport: number; dst: string; dport: number; syn: boolean; ack: boolean; payload: string }

/** Addresses of one run: the servers and the relays standing in front of each (25 ms away). */
export interface Legs { prosody: string; prosodyRelay: string; gateway: string; gatewayRelay: string; sink: string; sinkRelay: string; edgePort: number }

const RE = {
  header: /<(\w+:)?stream[\s>]/,
  features: /<(\w+:)?features[\s>]/,
  result: /<(\w+:)?result[\s>]/,
  verify: /<(\w+:)?verify[\s>]/,
  valid: /type=["']valid["']/,
};

const flowOf = (p: Packet) => `${p.src}:${p.sport}>${p.dst}:${p.dport}`;
const reverse = (p: Packet) => `${p.dst}:${p.dport}>${p.src}:${p.sport}`;

/** Packets of one TCP connection, each marked as sent by the connecting side (`out`) or not. */
function connection(packets: Packet[], like: Packet): Array<Packet & { out: boolean }> {
  // The connecting side is the one whose port is not 5269 (all S2S listeners here are on 5269).
  const a = like.dport === 5269 ? flowOf(like) : reverse(like);
  const b = like.dport === 5269 ? reverse(like) : flowOf(like);
  return packets.filter((p) => flowOf(p) === a || flowOf(p) === b).map((p) => ({ ...p, out: flowOf(p) === a }));
}

const first = <T extends Packet>(xs: T[], pred: (p: T) => boolean, after = -Infinity) => xs.find((p) => p.t >= after && pred(p));
const data = (p: Packet) => p.payload.length > 0;
const gap = (a?: Packet, b?: Packet) => (a && b ? b.t - a.t : NaN);

/**
 * Steps of one server accepting a new peer's stream: the server side of connection `conn`.
 * Returns the named steps (ms) the server spends before answering.
 */
function acceptingSteps(conn: Array<Packet & { out: boolean }>, prefix: string, steps: Record<string, number>) {
  const hdr = first(conn, (p) => p.out && RE.header.test(p.payload));
  const answer = first(conn, (p) => !p.out && data(p), hdr?.t);
  const feats = first(conn, (p) => !p.out && RE.features.test(p.payload), hdr?.t);
  steps[`${prefix}stream header -> header sent`] = gap(hdr, answer);
  steps[`${prefix}stream header -> features sent`] = gap(hdr, feats);
}

export interface Handshake { totalMs: number; steps: Record<string, number> }

/**
 * Prosody host -> `receiver` ("edge" behind the gateway, or the sink Prosody): the trigger is the
 * console line at Prosody carrying `marker`; the end is the stanza with `marker` reaching the receiver.
 */
export function analyseReceiving(packets: Packet[], legs: Legs, marker: string, receiver: "edge" | "prosody"): Handshake {
  const server = receiver === "edge" ? legs.gateway : legs.sink;
  const trigger = first(packets, (p) => p.dport === 5582 && p.payload.includes(marker));
  const end = first(packets, (p) => p.dst === server && p.dport === 5269 && p.payload.includes(marker));
  if (!trigger || !end) return { totalMs: NaN, steps: {} };
  const steps: Record<string, number> = {};
  const inbound = connection(packets, end);
  acceptingSteps(inbound, "", steps);
  const result = first(inbound, (p) => p.out && RE.result.test(p.payload));
  // The verification: a new connection to the authority (the relay in front of Prosody), or a
  // db:verify on one already open.
  const toAuthority = (p: Packet) => p.dst === legs.prosodyRelay && p.dport === 5269 && p.src !== legs.prosodyRelay;
  const verifySent = first(packets, (p) => toAuthority(p) && RE.verify.test(p.payload), result?.t);
  const syn = first(packets, (p) => toAuthority(p) && p.syn && !p.ack, result?.t);
  if (verifySent && syn && syn.t <= verifySent.t && flowOf(syn) === flowOf(verifySent)) {
    const link = connection(packets, verifySent);
    steps["db:result -> connect() to the authority"] = gap(result, syn);
    steps["connected -> stream header sent"] = gap(syn, first(link, (p) => p.out && data(p)));
    const feats = first(link, (p) => !p.out && RE.features.test(p.payload));
    steps["authority's features -> db:verify sent"] = gap(feats, verifySent);
  } else {
    steps["db:result -> db:verify sent (link open)"] = gap(result, verifySent);
  }
  const answer = verifySent && first(connection(packets, verifySent), (p) => !p.out && RE.verify.test(p.payload), verifySent.t);
  const valid = first(inbound, (p) => !p.out && RE.result.test(p.payload), answer?.t);
  steps["db:verify answer -> db:result sent"] = gap(answer, valid);
  return { totalMs: end.t - trigger.t, steps };
}

/**
 * `sender` ("edge": API request; "prosody": the sink's c2s message) -> a Prosody host: the trigger is
 * the request carrying `marker`; the end is the stanza reaching Prosody.
 */
export function analyseSending(packets: Packet[], legs: Legs, marker: string, sender: "edge" | "prosody"): Handshake {
  const end = first(packets, (p) => p.dst === legs.prosody && p.dport === 5269 && p.payload.includes(marker));
  const carrier = sender === "edge"
    ? first(packets, (p) => p.dport === legs.edgePort && p.payload.includes(marker))
    : first(packets, (p) => p.dst === legs.sink && p.dport === 5222 && p.payload.includes(marker));
  if (!end || !carrier) return { totalMs: NaN, steps: {} };
  // The request's first packet (headers may travel before the body).
  const req = sender === "edge"
    ? [...packets].reverse().find((p) => flowOf(p) === flowOf(carrier) && p.t <= carrier.t && p.payload.includes("POST /api/v1/stanzas")) ?? carrier
    : carrier;
  const steps: Record<string, number> = {};
  const stanzaOut = first(packets, (p) => p.dst === legs.prosodyRelay && p.dport === 5269 && p.payload.includes(marker));
  if (!stanzaOut) return { totalMs: end.t - req.t, steps };
  const out = connection(packets, stanzaOut);
  const syn = first(out, (p) => p.out && p.syn && !p.ack);
  if (syn && syn.t >= req.t) {
    steps["request -> connect()"] = gap(req, syn);
    steps["connected -> stream header sent"] = gap(syn, first(out, (p) => p.out && data(p)));
  }
  const feats = first(out, (p) => !p.out && RE.features.test(p.payload), req.t);
  steps["features -> db:result sent"] = gap(feats, first(out, (p) => p.out && RE.result.test(p.payload), feats?.t));
  // Prosody verifies the key on a connection of its own to the sender's domain.
  const server = sender === "edge" ? legs.gateway : legs.sink;
  const askVerify = first(packets, (p) => p.dst === server && p.dport === 5269 && RE.verify.test(p.payload), req.t);
  if (askVerify) {
    const back = connection(packets, askVerify);
    acceptingSteps(back, "dial-back: ", steps);
    steps["dial-back: db:verify -> answer sent"] = gap(askVerify, first(back, (p) => !p.out && RE.verify.test(p.payload), askVerify.t));
  }
  const valid = first(out, (p) => !p.out && RE.result.test(p.payload) && RE.valid.test(p.payload), req.t);
  steps["db:result valid -> stanza sent"] = gap(valid, stanzaOut);
  return { totalMs: end.t - req.t, steps };
}
