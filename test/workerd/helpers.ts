// Shared setup for the workerd session tests: the application's bearer token, the test peer's
// RemoteDomain, admin calls, polling the application inbox, and a verified inbound session.
import { env, SELF } from "cloudflare:test";
import { expect, inject } from "vitest";
import { harness, uplink, waitJob } from "../harness/bridge.js";
import type { Job } from "../harness/peer.js";

export const APP = { authorization: "Bearer test-app-token-0123456789ab" };

/** The RemoteDomain for the harness peer (peer.test). */
export const peerDomain = () => env.REMOTE_DOMAIN.get(env.REMOTE_DOMAIN.idFromName("peer.test"));

/** The harness's authority address as the edge keys it (static route, plaintext), and its AuthorityLink. */
export const peerAuthority = () => `tcp:127.0.0.1:${inject("harnessPorts").s2s}`;
export const peerAuthorityLink = () => env.AUTHORITY_LINK.get(env.AUTHORITY_LINK.idFromName(peerAuthority()));

/** A call to /admin/v1 with the admin token; `json` becomes the body. */
export const admin = (path: string, init: RequestInit & { json?: unknown } = {}) =>
  SELF.fetch(`https://edge.test/admin/v1${path}`, {
    ...init,
    headers: { authorization: "Bearer test-admin-token-0123456789", "content-type": "application/json" },
    ...(init.json !== undefined ? { body: JSON.stringify(init.json) } : {}),
  });

/** Polls the application inbox until a stanza matches `predicate` (or `ms` pass); the match or undefined. */
export async function appInbox(predicate: (xml: string) => boolean, ms = 5000): Promise<string | undefined> {
  const deadline = Date.now() + ms;
  for (;;) {
    const res = await SELF.fetch("https://edge.test/api/v1/inbox?limit=100", { headers: APP });
    const hit = (await res.json<{ items: { xml: string }[] }>()).items.map((i) => i.xml).find(predicate);
    if (hit || Date.now() > deadline) return hit;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A peer that originated a stream to edge.test and got dialback type='valid', with its StreamSession. */
export async function verifiedSession() {
  const job = await harness<Job>("POST", "/jobs", { kind: "originate", to: "edge.test", stanzas: [] });
  const link = await uplink(job.id);
  expect((await waitJob(job.id, ["sent", "refused", "closed"])).result).toEqual({ type: "valid" });
  const streamId = /id=['"]([0-9a-f]{32})['"]/.exec(link.fromEdge[0]!)![1]!;
  return { job, link, stub: env.STREAM_SESSION.get(env.STREAM_SESSION.idFromName(streamId)) };
}

/**
 * Closes uplinks at the end of a test file and waits until the edge has finished with them: each
 * StreamSession handles the close and reports it to the ControlPlane (sessionClosed drops it from
 * GET /admin/v1/sessions). A file that ended with those calls still running left the pool's module
 * loader waiting on an RPC that teardown then closed ("Closing rpc while "resolve" was pending").
 */
export async function closeUplinks(links: { ws: WebSocket; closed: Promise<void>; fromEdge: string[] }[], ms = 10_000): Promise<void> {
  const ids = links.map((l) => /id=['"]([0-9a-f]{32}(?:\.[0-9a-f]{32})?)['"]/.exec(l.fromEdge[0] ?? "")?.[1]).filter((id) => id !== undefined);
  for (const l of links) {
    try {
      l.ws.close(1000);
    } catch {
      // closed by the edge already
    }
  }
  await Promise.all(links.map((l) => l.closed));
  await sessionsGone(ids, ms);
}

/** Waits until none of the sessions `ids` is listed by GET /admin/v1/sessions (their streams ended). */
export async function sessionsGone(list: string[], ms = 10_000): Promise<void> {
  const ids = new Set(list);
  const deadline = Date.now() + ms;
  for (;;) {
    const res = await admin("/sessions?limit=500");
    const live = (await res.json<{ items: { id: string }[] }>()).items.filter((s) => ids.has(s.id));
    if (live.length === 0) return;
    if (Date.now() > deadline) throw new Error(`${live.length} sessions still listed ${ms} ms after their uplinks closed`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Waits until the verification link to the harness's address is connected (issue 11.6: a stream
 * header from peer.test warms it, in the background; `settled` adds what else must have happened,
 * e.g. its STARTTLS attempt). Tests that count connections, policy reads or TLS attempts of their own
 * take their baseline after this.
 */
export async function warmedLink(settled: () => Promise<boolean> = async () => true, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!((await peerAuthorityLink().describe()) !== null && (await settled()))) {
    if (Date.now() > deadline) throw new Error(`the verification link to ${peerAuthority()} was not warmed within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** SRV answers from the harness's DoH endpoint: each domain's authority is the harness's S2S port. */
export async function srvToHarness(domains: string[]): Promise<void> {
  const port = inject("harnessPorts").s2s;
  await harness("POST", "/dns", Object.fromEntries(domains.map((d) => [`_xmpp-server._tcp.${d}`, [`0 0 ${port} 127.0.0.1.`]])));
}
