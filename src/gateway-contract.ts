// The contract between the TCP ingress gateway (gateway/) and the edge, shared by both sides (the
// gateway imports only src/). Everything here is believed by the edge only on a WebSocket upgrade
// that carries the right GATEWAY_TOKEN (durable-objects/lib/connection-info.ts checks it), and by
// the gateway only on links it opened itself, with that token, to its configured GATEWAY_EDGE_URL.
//
// Headers on the upgrade (gateway -> edge):
//   X-Edge-Gateway-Token: <GATEWAY_TOKEN>
//   X-Edge-Connection:    {"peer":"203.0.113.5:40212","tls":{...},"certIdentities":[...],"port":5269,
//                          "framing":"batched","signals":["authenticated"]}
// and on the 101 answer (edge -> gateway): X-Edge-Framing: batched when batches are agreed.
//
// Control frame (edge -> gateway), issue 11 item 3: with "signals":["authenticated"] in the header,
// the edge sends, once per stream and as a WebSocket message of its own,
//   <authenticated xmlns='urn:xmpp:dialback-edge:gateway:0'/>
// as soon as the stream has proved who is behind it: an inbound domain pair became valid (XEP-0220
// dialback or SASL EXTERNAL, RFC 6120 §6 / XEP-0178), or the edge answered a db:verify with
// type='valid' (the peer holds a key the edge itself handed out: XEP-0220 §2.4, it is a server
// the edge chose to talk to). The gateway then counts the connection as authenticated (a generous
// per-address budget) instead of unauthenticated (a tight one). The frame never reaches the peer,
// and the gateway refuses a peer's element in this namespace, so a peer cannot forge or observe it.

export const GATEWAY_TOKEN_HEADER = "x-edge-gateway-token";
export const CONNECTION_HEADER = "x-edge-connection";
/** On the 101 answer to the gateway: `batched` when its messages may hold several frames. */
export const FRAMING_HEADER = "x-edge-framing";

/** Namespace of the edge -> gateway control frames. */
export const NS_GATEWAY_CONTROL = "urn:xmpp:dialback-edge:gateway:0";

/** Signals a gateway may ask for in X-Edge-Connection `signals`. */
export type GatewaySignal = "authenticated";

/** The control frame: this stream is authenticated (see the top of this file). */
export function authenticatedFrame(): string {
  return `<authenticated xmlns='${NS_GATEWAY_CONTROL}'/>`;
}
