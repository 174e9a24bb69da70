// Sessions under the ControlPlane's policy (issue 5 with real sessions from issue 4): a denied peer
// gets the right dialback error, a revoked pair closes a live stream, and sessions show in the index.
import { env } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { harness, uplink, waitJob } from "../harness/bridge.js";
import type { Job } from "../harness/peer.js";
import { admin } from "./helpers.js";

beforeEach(async () => {
  await harness("POST", "/reset");
});
afterEach(async () => {
  await admin("/policy/domains/peer.test", { method: "DELETE" });
});

async function originate(): Promise<{ job: Job; close: () => void; streamId: string }> {
  const job = await harness<Job>("POST", "/jobs", { kind: "originate", to: "edge.test", stanzas: [] });
  const link = await uplink(job.id);
  const done = await waitJob(job.id, ["sent", "refused", "closed"]);
  const streamId = /id=['"]([0-9a-f]{32})['"]/.exec(link.fromEdge[0] ?? "")?.[1] ?? "";
  return { job: done, close: () => link.ws.close(1000), streamId };
}

describe("policy on live sessions", () => {
  it("a denied peer's db:result gets the dialback error 'forbidden' (XEP-0220 §2.4)", async () => {
    const put = await admin("/policy/domains/peer.test", { method: "PUT", json: { action: "deny" } });
    expect(put.status).toBeLessThan(300);
    const { job, close } = await originate();
    expect(job.state).toBe("refused");
    expect(job.result).toEqual({ type: "error", condition: "forbidden" });
    close();
  });

  it("the session appears in GET /admin/v1/sessions, and revoking its only pair closes the stream", async () => {
    const { job, close, streamId } = await originate();
    expect(job.result).toEqual({ type: "valid" });
    const list = await (await admin("/sessions")).json<{ items: { id: string; direction: string; transport: string; peer?: string }[] }>();
    expect(list.items.find((s) => s.id === streamId)).toMatchObject({ direction: "inbound", transport: "websocket", peer: "peer.test" });

    const del = await admin("/pairs/edge.test/peer.test", { method: "DELETE" });
    expect(del.status).toBeLessThan(300);
    const after = await waitJob(job.id, ["closed"]);
    expect(after.state).toBe("closed");
    expect(after.streamError).toBe("policy-violation");
    const stub = env.STREAM_SESSION.get(env.STREAM_SESSION.idFromName(streamId));
    expect(await stub.describe()).toBeNull();
    close();
  });
});
