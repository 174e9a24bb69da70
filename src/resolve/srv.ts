// RFC 2782 SRV ordering: lowest priority first; within one priority, a weighted random choice
// repeated until the set is empty. Randomness is a parameter so the order is testable.

export interface SrvRecord {
  priority: number;
  weight: number;
  port: number;
  /** Target host without the trailing dot; "." (RFC 2782: service decidedly not available) stays ".". */
  target: string;
}

/** Returns a number in [0, 1), like Math.random. */
export type Random = () => number;

/**
 * RFC 2782 "Usage rules": group by priority ascending; inside a group put zero-weight records first,
 * then repeatedly pick a record with probability proportional to its weight (running sum >= a random
 * number in [0, total]).
 */
export function orderSrv<T extends SrvRecord>(records: readonly T[], random: Random): T[] {
  const byPriority = new Map<number, T[]>();
  for (const r of records) {
    const group = byPriority.get(r.priority);
    if (group) group.push(r);
    else byPriority.set(r.priority, [r]);
  }
  const out: T[] = [];
  for (const priority of [...byPriority.keys()].sort((a, b) => a - b)) {
    // RFC 2782: "arrange all SRV RRs (that have not been ordered yet) in any order, except that all
    // those with weight 0 are placed at the beginning of the list."
    const group = [...byPriority.get(priority)!].sort((a, b) => (a.weight === 0 ? 0 : 1) - (b.weight === 0 ? 0 : 1));
    while (group.length > 0) {
      const total = group.reduce((s, r) => s + r.weight, 0);
      const pick = Math.floor(random() * (total + 1));
      let sum = 0;
      let index = group.length - 1;
      for (let i = 0; i < group.length; i++) {
        sum += group[i]!.weight;
        if (sum >= pick) {
          index = i;
          break;
        }
      }
      out.push(group.splice(index, 1)[0]!);
    }
  }
  return out;
}

/** Parses the RDATA text of a DoH JSON SRV answer: "10 5 5269 xmpp.example.org." */
export function parseSrvData(data: string): SrvRecord | undefined {
  const m = /^\s*(\d{1,5})\s+(\d{1,5})\s+(\d{1,5})\s+(\S+)\s*$/.exec(data);
  if (!m) return undefined;
  const [priority, weight, port] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (priority > 65535 || weight > 65535 || port > 65535) return undefined;
  const raw = m[4]!;
  const target = raw === "." ? "." : raw.replace(/\.$/, "").toLowerCase();
  if (target === "") return undefined;
  return { priority, weight, port, target };
}
