// The key a peer address is counted under by per-address limits (the gateway's admission, the edge's
// cap on unauthenticated WebSocket streams): an IPv4 address alone; IPv6 per /64 (one host or LAN gets
// a whole /64, so counting single IPv6 addresses would give one attacker 2^64 budgets); IPv4-mapped
// IPv6 (::ffff:a.b.c.d) as the IPv4 address.

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
