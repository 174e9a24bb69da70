// XEP-0220 §3 multiplexing: many domain pairs on one stream (sender and target multiplexing),
// 10,000 of them, and seed 001: one invalid pair must not take the verified ones down.

import { describe, expect, it } from "vitest";
import { DialbackKeys } from "../../../src/dialback/keys.js";
import { drive, S2SStream, type Action } from "../../../src/engine/index.js";
import { asStreamId } from "../../../src/types.js";
import { ALLOW, TestPolicy, World, d, el, msg, show } from "./harness.js";

const NOW = 9000;

describe("multiplexing", () => {
  it("sender and target multiplexing between two servers on one stream", async () => {
    const world = new World();
    const capulet = world.server("capulet", { domains: ["capulet.example", "rooms.capulet.example"] });
    const montague = world.server("montague", { domains: ["montague.example", "chat.montague.example"] });
    const { out, in: inbound } = world.connect(capulet, "capulet.example", "montague.example");
    const pairs = [
      ["capulet.example", "montague.example"],
      ["rooms.capulet.example", "montague.example"],
      ["capulet.example", "chat.montague.example"],
      ["rooms.capulet.example", "chat.montague.example"],
    ] as const;
    pairs.forEach(([f, t], i) => out.sendStanza(msg(`u@${f}`, `v@${t}`, `m${i}`), world.clock.now));
    await world.run();
    expect(montague.delivered.map((x) => `${x.from}>${x.to}`).sort()).toEqual(pairs.map(([f, t]) => `${f}>${t}`).sort());
    expect(inbound!.validPairCount("inbound")).toBe(4);
    // All four used the one stream; the authority streams are separate.
    expect(new Set(montague.delivered.map((x) => x.stream))).toEqual(new Set([inbound]));
  });

  it("verifies 10,000 pairs on one stream and keeps accepting stanzas for every one", async () => {
    const N = 10_000;
    const keys = new DialbackKeys("multiplex-secret-0123456789");
    const senders = Array.from({ length: N }, (_, i) => `s${i}.capulet.example`);
    const origin = new S2SStream({
      role: "initiating",
      policy: new TestPolicy(senders, ALLOW, { maxPendingPerStream: N }),
      transport: { secure: true, canStartTls: false },
      now: NOW,
      local: d(senders[0]!),
      remote: d("montague.example"),
    });
    const recv = new S2SStream({
      role: "receiving",
      policy: new TestPolicy(["montague.example"], ALLOW, { maxPendingPerStream: N }),
      transport: { secure: true, canStartTls: false },
      now: NOW,
      newStreamId: () => asStreamId("bigstream"),
    });
    // Wire header and features by hand.
    origin.start(NOW);
    const pump = async (from: S2SStream, to: S2SStream, acts: Action[]) => {
      for (const a of acts) {
        if (a.type !== "send") continue;
        if (a.data.kind === "header") to.handleOpen(a.data.attrs, NOW);
        else if (a.data.kind === "element") to.handleElement(el(a.data.element.toString()), NOW);
      }
      void from;
    };
    await pump(origin, recv, await drive(origin, keys, () => NOW));
    await pump(recv, origin, await drive(recv, keys, () => NOW));
    for (const s of senders) origin.authenticate(d(s), d("montague.example"), NOW);
    await pump(origin, recv, await drive(origin, keys, () => NOW));
    const verifies = (await drive(recv, keys, () => NOW)).filter((a) => a.type === "verify");
    expect(verifies).toHaveLength(N);
    expect(recv.pendingCount).toBe(N);
    // The authority: check each key as the authoritative server would.
    for (const v of verifies) {
      const ok = await keys.verify({ receiving: v.from, originating: v.to, streamId: v.id }, v.key);
      recv.handleVerifyResult(v.handle, ok ? { type: "valid" } : { type: "invalid" }, NOW);
    }
    await pump(recv, origin, await drive(recv, keys, () => NOW));
    expect(recv.validPairCount("inbound")).toBe(N);
    expect(origin.validPairCount("outbound")).toBe(N);
    expect(recv.pendingCount).toBe(0);
    // Stanzas on the first, last and a middle pair are accepted; the stream is still open.
    for (const i of [0, N / 2, N - 1]) recv.handleElement(msg(`u@${senders[i]}`, "v@montague.example", `k${i}`), NOW);
    expect(recv.drainActions().filter((a) => a.type === "deliver")).toHaveLength(3);
    expect(recv.phase).toBe("open");
    // And the whole state survives a JSON snapshot of reasonable size (well under 1 KiB per pair).
    const json = JSON.stringify(recv.snapshot());
    expect(json.length / N).toBeLessThan(200);
  });
});

describe("seed 001 / XEP-0220 §2.1.2: isolating an invalid pair", () => {
  async function setup(onPairFailure: "keep-stream" | "close-stream") {
    const world = new World();
    const capulet = world.server("capulet", { domains: ["capulet.example", "rooms.capulet.example"] });
    const montague = world.server("montague", {
      domains: ["montague.example"],
      verifyMode: "manual",
      policy: { ...ALLOW, onPairFailure },
    });
    const { out, in: inbound } = world.connect(capulet, "capulet.example", "montague.example");
    out.sendStanza(msg("a@capulet.example", "b@montague.example", "good"), world.clock.now);
    out.sendStanza(msg("a@rooms.capulet.example", "b@montague.example", "spoofed"), world.clock.now);
    await world.run();
    expect(montague.verifyRequests).toHaveLength(2);
    world.answer(montague, 0, { type: "valid" });
    await world.run();
    world.answer(montague, 1, { type: "invalid" });
    await world.run();
    return { world, capulet, montague, out, inbound: inbound! };
  }

  it("keeps the stream and the verified pair when the peer handles dialback errors (forbidden)", async () => {
    const { world, capulet, montague, out, inbound } = await setup("keep-stream");
    expect(inbound.phase).toBe("open");
    expect(montague.audits.map((a) => a.event)).toEqual(["spoofing-attempt"]);
    expect(capulet.pairEvents.at(-1)).toMatchObject({ local: "rooms.capulet.example", state: "error", condition: "forbidden" });
    expect(capulet.bounced.map((b) => [b.stanza.attrs.id, b.condition])).toEqual([["spoofed", "remote-server-timeout"]]);
    // The verified pair keeps working.
    out.sendStanza(msg("a@capulet.example", "b@montague.example", "after"), world.clock.now);
    await world.run();
    expect(montague.delivered.map((x) => x.stanza.attrs.id)).toEqual(["good", "after"]);
  });

  it("sends type='invalid' and closes when local policy says close-stream", async () => {
    const { capulet, montague, inbound } = await setup("close-stream");
    expect(inbound.phase).toBe("closed");
    expect(montague.audits.map((a) => a.event)).toEqual(["spoofing-attempt"]);
    expect(capulet.bounced.map((b) => [b.stanza.attrs.id, b.condition])).toEqual([["spoofed", "internal-server-error"]]);
  });
});

describe("pending cap on the originating side", () => {
  it("bounces with resource-constraint when the per-pair queue is full", () => {
    const s = new S2SStream({
      role: "initiating",
      policy: new TestPolicy(["capulet.example"], ALLOW, { maxQueuedPerPair: 1 }),
      transport: { secure: true, canStartTls: false },
      now: NOW,
      local: d("capulet.example"),
      remote: d("montague.example"),
    });
    s.start(NOW);
    s.sendStanza(msg("a@capulet.example", "b@montague.example", "q1"), NOW);
    s.sendStanza(msg("a@capulet.example", "b@montague.example", "q2"), NOW);
    expect(show(s.drainActions()).filter((x) => x.startsWith("bounce"))).toEqual(["bounce resource-constraint q2"]);
  });
});
