// Admission control at the raw TCP accept (issue 10 defect 1): every connection is counted from the
// moment the kernel hands it over, before any TLS or XML work, on both listeners, against a global
// cap (GATEWAY_MAX_CONNECTIONS) and a per-address cap (GATEWAY_MAX_CONNECTIONS_PER_IP). A refusal
// costs one accept and one close; the listener goes on serving everybody else (nginx limit_conn,
// Envoy's overload manager: the budget is enforced where the cost is first incurred).
//
// Addresses: an IPv4 address counts alone; IPv6 addresses count per /64 (one host or LAN gets a
// whole /64, so counting single IPv6 addresses would give one attacker 2^64 budgets); IPv4-mapped
// IPv6 (::ffff:a.b.c.d) counts as the IPv4 address.

import type { Logger } from "./log.js";

export interface AdmissionLimits {
  maxConnections: number;
  maxConnectionsPerIp: number;
}

export type Refusal = "global" | "per-ip" | "shutting-down";

/** One admitted connection's place in the counts; release() exactly once, when it is gone. */
export interface Ticket {
  readonly address: string;
  release(): void;
}

interface AddressEntry {
  connections: number;
  refused: number;
}

export class Admission {
  #total = 0;
  readonly #byAddress = new Map<string, AddressEntry>();
  #refusedGlobal = 0;
  #closing = false;
  /** Refusals so far, by cap (metrics). */
  readonly refused = { global: 0, perIp: 0, shuttingDown: 0 };

  constructor(
    private readonly limits: AdmissionLimits,
    private readonly log: Logger,
  ) {}

  get total(): number {
    return this.#total;
  }

  /** Connections counted for the address `ip` belongs to. */
  countFor(ip: string): number {
    return this.#byAddress.get(addressKey(ip))?.connections ?? 0;
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
    if (entry && entry.connections >= this.limits.maxConnectionsPerIp) {
      this.refused.perIp++;
      const n = ++entry.refused;
      if (isPowerOfTwo(n)) {
        this.log.log("warn", "refused: too many connections from this address", { peer: ip, address, listener, limit: this.limits.maxConnectionsPerIp, refusedSoFar: n });
      }
      return "per-ip";
    }
    if (!entry) {
      entry = { connections: 0, refused: 0 };
      this.#byAddress.set(address, entry);
    }
    entry.connections++;
    this.#total++;
    let released = false;
    const e = entry;
    return {
      address,
      release: () => {
        if (released) return;
        released = true;
        this.#total--;
        if (--e.connections <= 0) this.#byAddress.delete(address);
      },
    };
  }
}

const isPowerOfTwo = (n: number) => (n & (n - 1)) === 0;

/** The key a peer address is counted under (see the top of this file). */
export function addressKey(ip: string): string {
  if (!ip.includes(":")) return ip;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  const zone = ip.indexOf("%");
  const bare = zone === -1 ? ip : ip.slice(0, zone);
  // Expand '::' to get the first four 16-bit groups (the /64).
  const [head, tail] = bare.split("::") as [string, string | undefined];
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = tail === undefined ? left : [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right];
  return groups.slice(0, 4).map((g) => (parseInt(g, 16) || 0).toString(16)).join(":") + "::/64";
}
