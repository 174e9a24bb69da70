// What a session writes to SQLite: the engine snapshot only when the engine's state changed, never
// per verified stanza (a snapshot with many pairs is large), and still enough to resume after eviction.
import { env, evictDurableObject, runInDurableObject } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { S2SStream } from "../../src/engine/index.js";
import { harness, uplink, waitJob } from "../harness/bridge.js";
import type { Job } from "../harness/peer.js";
import { APP, appInbox } from "./helpers.js";

// Counts writes to the session's key/value rows with an SQLite trigger (test-only instrumentation).
const countWrites = `CREATE TABLE IF NOT EXISTS test_writes (k TEXT PRIMARY KEY, n INTEGER NOT NULL);
  CREATE TRIGGER IF NOT EXISTS test_kv_ins AFTER INSERT ON kv BEGIN
    INSERT INTO test_writes (k, n) VALUES (NEW.k, 1) ON CONFLICT (k) DO UPDATE SET n = n + 1; END;
  CREATE TRIGGER IF NOT EXISTS test_kv_upd AFTER UPDATE ON kv BEGIN
    INSERT INTO test_writes (k, n) VALUES (NEW.k, 1) ON CONFLICT (k) DO UPDATE SET n = n + 1; END;`;
const writes = (state: DurableObjectState) =>
  Object.fromEntries(state.storage.sql.exec<{ k: string; n: number }>("SELECT k, n FROM test_writes").toArray().map((r) => [r.k, r.n]));

beforeEach(async () => {
  await harness("POST", "/reset");
});
afterEach(() => vi.restoreAllMocks());

describe("snapshot writes", () => {
  it("verified stanzas neither serialise nor write the engine state; the session still resumes after eviction", async () => {
    const job = await harness<Job>("POST", "/jobs", { kind: "originate", to: "edge.test", stanzas: [] });
    const link = await uplink(job.id);
    expect((await waitJob(job.id, ["sent", "refused", "closed"])).result).toEqual({ type: "valid" });
    const streamId = /id=['"]([0-9a-f]{32})['"]/.exec(link.fromEdge[0]!)![1]!;
    const stub = env.STREAM_SESSION.get(env.STREAM_SESSION.idFromName(streamId));
    await runInDurableObject(stub, (_i, state) => void state.storage.sql.exec(countWrites));
    // The DO runs in this isolate: count serialisations of the engine state as well.
    const snapshots = vi.spyOn(S2SStream.prototype, "snapshot");

    for (let i = 0; i < 20; i++) {
      await harness("POST", `/jobs/${job.id}/send`, { xml: `<message from='alice@peer.test' to='bob@edge.test' id='w${i}'><body>n${i}</body></message>` });
    }
    expect(await appInbox((x) => x.includes('id="w19"'))).toContain("n19");
    expect(await runInDurableObject(stub, (_i, state) => writes(state))).toEqual({});
    expect(snapshots).not.toHaveBeenCalled();

    // Eviction: the session resumes from the snapshot written when the pair was verified, and saves
    // once after the restore (the revision count restarts), which the trigger sees.
    await evictDurableObject(stub);
    await harness("POST", `/jobs/${job.id}/send`, { xml: "<message from='alice@peer.test' to='bob@edge.test' id='after'><body>resumed</body></message>" });
    expect(await appInbox((x) => x.includes('id="after"'))).toContain("resumed");
    expect(await runInDurableObject(stub, (_i, state) => writes(state))).toEqual({ snapshot: 1 });
    link.ws.close(1000);
  });
});
