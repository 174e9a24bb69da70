// Refuses outbound targets inside private, loopback, link-local, metadata and other non-global
// address space (issue 10 defect 7). A literal is judged by its spelling (address-class.ts); a name
// by every A and AAAA record the DoH resolver returns for it, so a name pointing at 127.0.0.1 or
// 169.254.169.254 is refused before any connection is opened. connect() resolves the name again
// itself (workerd gives no way to dial an address while checking the certificate against the name),
// so a resolver that answers differently within seconds (DNS rebinding) is not covered here; the
// platform's own egress rules are the backstop for that. A lookup that fails refuses the target:
// we never dial what we could not check.

import { classifyHost } from "./address-class.js";
import { queryAddresses, type FetchLike } from "./doh.js";

export type TargetVerdict = { ok: true } | { ok: false; reason: string };

export interface GuardDeps {
  fetch: FetchLike;
  dohUrl: string;
}

export async function checkTarget(host: string, deps: GuardDeps): Promise<TargetVerdict> {
  const c = classifyHost(host);
  if (c.kind === "public") return { ok: true };
  if (c.kind === "refused") return { ok: false, reason: `${host} is ${c.range}` };
  const answers = await Promise.all([
    queryAddresses(deps.fetch, deps.dohUrl, host, "A"),
    queryAddresses(deps.fetch, deps.dohUrl, host, "AAAA"),
  ]);
  const failed = answers.find((a) => a.kind === "error");
  if (failed && failed.kind === "error") return { ok: false, reason: `could not check the addresses of ${host}: ${failed.reason}` };
  for (const a of answers) {
    if (a.kind !== "addresses") continue;
    for (const address of a.addresses) {
      const ac = classifyHost(address);
      // A resolver never answers an A/AAAA record with a name; treat one as unusable.
      if (ac.kind === "name") return { ok: false, reason: `${host} resolves to '${address}', not an address` };
      if (ac.kind === "refused") return { ok: false, reason: `${host} resolves to ${address}, ${ac.range}` };
    }
  }
  // No address at all: nothing could be checked, and connect() might ask another resolver.
  if (answers.every((a) => a.kind !== "addresses")) return { ok: false, reason: `${host} has no A or AAAA record` };
  return { ok: true };
}
