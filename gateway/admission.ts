// Admission control at the raw TCP accept (issue 10 defect 1): every connection is counted from the
// moment the kernel hands it over, before any TLS or XML work, on both listeners, against a global
// cap (GATEWAY_MAX_CONNECTIONS) and a per-address cap (GATEWAY_MAX_CONNECTIONS_PER_IP). A refusal
// costs one accept and one close; the listener goes on serving everybody else (nginx limit_conn,
// Envoy's overload manager: the budget is enforced where the cost is first incurred).
//
// Unauthenticated and authenticated connections count apart (issue 11 item 3). A connection is
// unauthenticated until the edge's control frame says its stream proved who is behind it
// (src/gateway-contract.ts). At most GATEWAY_MAX_UNAUTHENTICATED_PER_IP are served at once per
// address; more wait in line, not read (an fd and a socket object, no TLS, nothing at the edge),
// like nginx's limit_req burst, for at most GATEWAY_HANDSHAKE_TIMEOUT_MS, and at most
// GATEWAY_MAX_WAITING_PER_IP of them. So a real server with many vhosts (one connection per domain
// pair, all from one address, all unauthenticated at first) is served or waits its turn, never
// refused by the tight budget, while an attacker without credentials holds at most the
// unauthenticated and waiting budgets of its address.
//
// Addresses: an IPv4 address counts alone; IPv6 addresses count per /64 (one host or LAN gets a
// whole /64, so counting single IPv6 addresses would give one attacker 2^64 budgets); IPv4-mapped
// IPv6 (::ffff:a.b.c.d) counts as the IPv4 address.

import type { Logger } from "./log.js";
import { addressKey } from "../src/address-key.js";

export interface AdmissionLimits {
  maxConnections: number;
  maxConnectionsPerIp: number;
  maxUnauthenticatedPerIp: number;
  maxWaitingPerIp: number;
}

export type Refusal = "global" | "per-ip" | "waiting" | "shutting-down";

/**
 * One admitted connection's place in the counts. It starts "unauthenticated" (served: TLS, stream
 * setup, dialback) or "waiting" (over GATEWAY_MAX_UNAUTHENTICATED_PER_IP: held, not read, until an
 * unauthenticated connection of the same address authenticates or closes; `onStart` fires then).
 * authenticated() moves it to the generous budget; release() exactly once, when it is gone.
 */
export interface Ticket {
  readonly address: string;
  readonly state: "waiting" | "unauthenticated" | "authenticated" | "released";
  /** Called once when a waiting ticket is let through (at once if it was never waiting). */
  onStart(start: () => void): void;
  authenticated(): void;
  release(): void;
}

interface AddressEntry {
  /** Every connection of the address, whatever its state (GATEWAY_MAX_CONNECTIONS_PER_IP). */
  connections: number;
  /** Served and not yet authenticated (GATEWAY_MAX_UNAUTHENTICATED_PER_IP). */
  unauthenticated: number;
  /** In line for an unauthenticated slot, oldest first (a Set keeps insertion order). */
  waiting: Set<TicketImpl>;
  refused: number;
  queued: number;
}

class TicketImpl implements Ticket {
  state: Ticket["state"];
  #start: (() => void) | undefined;
  #started = false;

  constructor(
    readonly address: string,
    private readonly entry: AddressEntry,
    private readonly owner: Admission,
    waiting: boolean,
  ) {
    this.state = waiting ? "waiting" : "unauthenticated";
  }

  onStart(start: () => void): void {
    this.#start = start;
    if (this.state !== "waiting") this.started();
  }

  started(): void {
    if (this.#started || !this.#start) return;
    this.#started = true;
    this.#start();
  }

  authenticated(): void {
    if (this.state !== "unauthenticated") return;
    this.state = "authenticated";
    this.entry.unauthenticated--;
    this.owner.promote(this.entry);
  }

  release(): void {
    if (this.state === "released") return;
    const was = this.state;
    this.state = "released";
    this.owner.released(this.address, this.entry, this, was);
  }
}

export class Admission {
  #total = 0;
  readonly #byAddress = new Map<string, AddressEntry>();
  #refusedGlobal = 0;
  #closing = false;
  /** Refusals so far, by cap (metrics). */
  readonly refused = { global: 0, perIp: 0, waiting: 0, shuttingDown: 0 };
  /** Connections that had to wait for an unauthenticated slot, so far. */
  queued = 0;

  constructor(
    private readonly limits: AdmissionLimits,
    private readonly log: Logger,
  ) {}

  get total(): number {
    return this.#total;
  }

  /** Counts for the address `ip` belongs to. */
  countFor(ip: string): { connections: number; unauthenticated: number; waiting: number } {
    const e = this.#byAddress.get(addressKey(ip));
    return { connections: e?.connections ?? 0, unauthenticated: e?.unauthenticated ?? 0, waiting: e?.waiting.size ?? 0 };
  }

  /** From now on every connection is refused (graceful shutdown). */
  close(): void {
    this.#closing = true;
  }

  /** Decides at accept time: a ticket, or why not. Logs refusals (throttled: 1st, 2nd, 4th, 8th...). */
  admit(ip: string, listener: string): Ticket | Refusal {
    const address = addressKey(ip);
    if (this.#closing) {
      this.refused.shuttingDown++;
      return "shutting-down";
    }
    let entry = this.#byAddress.get(address);
    if (this.#total >= this.limits.maxConnections) {
      this.refused.global++;
      const n = ++this.#refusedGlobal;
      if (isPowerOfTwo(n)) {
        this.log.log("warn", "refused: GATEWAY_MAX_CONNECTIONS reached", { peer: ip, address, listener, limit: this.limits.maxConnections, refusedSoFar: n });
      }
      return "global";
    }
    const limits = this.limits;
    const full = entry !== undefined && entry.connections >= limits.maxConnectionsPerIp;
    const mustWait = entry !== undefined && entry.unauthenticated >= limits.maxUnauthenticatedPerIp;
    const lineFull = mustWait && entry!.waiting.size >= limits.maxWaitingPerIp;
    if (full || lineFull) {
      const n = ++entry!.refused;
      if (full) this.refused.perIp++;
      else this.refused.waiting++;
      if (isPowerOfTwo(n)) {
        const [msg, limit] = full
          ? ["refused: too many connections from this address", limits.maxConnectionsPerIp]
          : ["refused: too many unauthenticated connections from this address waiting", limits.maxWaitingPerIp];
        this.log.log("warn", msg, { peer: ip, address, listener, limit, refusedSoFar: n });
      }
      return full ? "per-ip" : "waiting";
    }
    if (!entry) {
      entry = { connections: 0, unauthenticated: 0, waiting: new Set(), refused: 0, queued: 0 };
      this.#byAddress.set(address, entry);
    }
    entry.connections++;
    this.#total++;
    const ticket = new TicketImpl(address, entry, this, mustWait);
    if (mustWait) {
      entry.waiting.add(ticket);
      this.queued++;
      const n = ++entry.queued;
      if (isPowerOfTwo(n)) {
        this.log.log("info", "waiting: unauthenticated connections from this address at the limit", { peer: ip, address, listener, limit: limits.maxUnauthenticatedPerIp, waitedSoFar: n });
      }
    } else {
      entry.unauthenticated++;
    }
    return ticket;
  }

  /** Lets waiting connections of the address through while unauthenticated slots are free (FIFO). */
  promote(entry: AddressEntry): void {
    while (entry.unauthenticated < this.limits.maxUnauthenticatedPerIp && entry.waiting.size > 0) {
      const next = entry.waiting.values().next().value as TicketImpl;
      entry.waiting.delete(next);
      next.state = "unauthenticated";
      entry.unauthenticated++;
      next.started();
    }
  }

  released(address: string, entry: AddressEntry, ticket: TicketImpl, was: Ticket["state"]): void {
    this.#total--;
    entry.connections--;
    if (was === "waiting") entry.waiting.delete(ticket);
    if (was === "unauthenticated") {
      entry.unauthenticated--;
      this.promote(entry);
    }
    if (entry.connections <= 0) this.#byAddress.delete(address);
  }
}

const isPowerOfTwo = (n: number) => (n & (n - 1)) === 0;

/** The key a peer address is counted under (see the top of this file; shared with the edge). */
export { addressKey };
