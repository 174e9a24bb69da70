// Tells the TCP gateway, once per stream, that the stream is authenticated, so it counts the TCP
// connection against its generous per-address budget instead of the tight one for unauthenticated
// connections (issue 11 item 3; the frame and when it is due: src/gateway-contract.ts). Only on a
// connection whose header the gateway token vouched for and that asked for it.

import type { Outgoing, ShellAction } from "../../src/engine/index.js";
import { authenticatedFrame } from "../../src/gateway-contract.js";
import { NS_DIALBACK } from "../../src/xml/index.js";

export class AuthenticatedSignal {
  #sent = false;

  constructor(
    private readonly enabled: boolean,
    private readonly send: (frame: string) => void,
  ) {}

  /** XEP-0220 / RFC 6120 §6: an inbound pair became valid (dialback or SASL EXTERNAL). */
  observe(a: ShellAction): void {
    if (a.type === "pair-state" && a.direction === "inbound" && a.state === "valid") this.#fire();
  }

  /** XEP-0220 §2.2.2: we answered a db:verify with type='valid' (the peer held a key we made). */
  wrote(out: Outgoing): void {
    if (out.kind === "element" && out.element.attrs.type === "valid" && out.element.is("verify", NS_DIALBACK)) this.#fire();
  }

  #fire(): void {
    if (!this.enabled || this.#sent) return;
    this.#sent = true;
    this.send(authenticatedFrame());
  }
}
