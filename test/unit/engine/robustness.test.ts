// Whatever a peer sends, in whatever order, the engine never throws, never emits after `closed`,
// keeps its pending count consistent, and a stream error is always followed by the close.
// Deterministic pseudo-random sequences (seeded), so a failure reproduces.

import { describe, expect, it } from "vitest";
import { S2SStream, type Action } from "../../../src/engine/index.js";
import { asStreamId } from "../../../src/types.js";
import { TestPolicy, d, el } from "./harness.js";

function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

const DOMAINS = ["capulet.example", "montague.example", "rooms.capulet.example", "other.example", "BAD DOMAIN", ""];
const TYPES = [undefined, "valid", "invalid", "error", "weird"];

function randomInput(r: () => number): (s: S2SStream, now: number) => void {
  const pick = <T,>(xs: T[]): T => xs[Math.floor(r() * xs.length)]!;
  const attr = (name: string) => {
    const v = pick(DOMAINS);
    return v === "" ? "" : ` ${name}='${v}'`;
  };
  const type = () => {
    const t = pick(TYPES);
    return t ? ` type='${t}'` : "";
  };
  const choices: ((s: S2SStream, now: number) => void)[] = [
    (s, n) => s.handleOpen({ xmlns: "jabber:server", "xmlns:db": "jabber:server:dialback", from: pick(DOMAINS), to: pick(DOMAINS), id: "X", ...(r() < 0.7 ? { version: "1.0" } : {}) }, n),
    (s, n) => s.handleElement(el(`<db:result${attr("from")}${attr("to")}${type()}>k</db:result>`), n),
    (s, n) => s.handleElement(el(`<db:verify${attr("from")}${attr("to")} id='${pick(["X", "S", "Y"])}'${type()}>k</db:verify>`), n),
    (s, n) => s.handleElement(el(`<message${attr("from")}${attr("to")}><body>x</body></message>`), n),
    (s, n) => s.handleElement(el(`<stream:features><dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback>${r() < 0.5 ? "<bidi xmlns='urn:xmpp:features:bidi'/>" : ""}${r() < 0.3 ? "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>" : ""}</stream:features>`), n),
    (s, n) => s.handleElement(el(`<bidi xmlns='${pick(["urn:xmpp:bidi", "urn:xmpp:features:bidi"])}'/>`), n),
    (s, n) => s.handleElement(el(`<${pick(["starttls", "proceed", "failure"])} xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`), n),
    (s, n) => s.handleVerifyResult(Math.floor(r() * 8), pick([{ type: "valid" }, { type: "invalid" }, { type: "error", condition: "remote-server-timeout" }] as const), n),
    (s, n) => s.handleKeyGenerated(Math.floor(r() * 8), "key", n),
    (s, n) => s.handleKeyChecked(Math.floor(r() * 8), r() < 0.5, n),
    (s, n) => s.handleTimeout(n + Math.floor(r() * 200_000)),
    (s, n) => {
      try {
        s.sendStanza(el(`<message from='a@capulet.example' to='b@${pick(["montague.example", "other.example"])}'/>`), n);
      } catch {
        // EngineUsageError for a receiving stream without bidi: the caller's mistake, allowed here.
      }
    },
    (s, n) => s.handleClose(n),
  ];
  return pick(choices);
}

describe("robustness against arbitrary peer input", () => {
  for (const role of ["receiving", "initiating"] as const) {
    it(`${role}: 300 random sessions of 40 inputs keep the invariants`, () => {
      for (let seed = 1; seed <= 300; seed++) {
        const r = rng(seed * 7919 + (role === "receiving" ? 1 : 2));
        const s = new S2SStream({
          role,
          policy: new TestPolicy(["capulet.example"], undefined, { maxPendingPerStream: 3 }),
          transport: { secure: false, canStartTls: true },
          now: 0,
          newStreamId: () => asStreamId("S"),
          ...(role === "initiating" ? { local: d("capulet.example"), remote: d("montague.example") } : {}),
        });
        if (role === "initiating") s.start(0);
        const all: Action[] = [];
        let now = 0;
        for (let i = 0; i < 40; i++) {
          now += Math.floor(r() * 1000);
          const input = randomInput(r);
          expect(() => input(s, now), `seed ${seed} step ${i}`).not.toThrow();
          all.push(...s.drainActions());
          expect(s.pendingCount, `seed ${seed}`).toBeGreaterThanOrEqual(0);
        }
        const closedAt = all.findIndex((a) => a.type === "closed");
        if (closedAt >= 0) {
          // After `closed` only answers to the caller's own commands may follow (a bounce for a
          // stanza sent to the closed stream): nothing goes to the wire, nothing closes twice.
          const after = all.slice(closedAt + 1).map((a) => a.type);
          expect(after.filter((t) => t !== "bounce"), `seed ${seed}: ${after.join(",")}`).toEqual([]);
          expect(s.phase).toBe("closed");
          expect(s.pollTimeout()).toBeUndefined();
        }
        all.forEach((a, i) => {
          if (a.type === "send" && a.data.kind === "element" && a.data.element.name === "stream:error") {
            expect(all[i + 1], `seed ${seed}: close follows the stream error`).toMatchObject({ type: "send", data: { kind: "close" } });
          }
        });
        // The snapshot is always JSON-clean.
        expect(() => JSON.stringify(s.snapshot())).not.toThrow();
      }
    });
  }
});
