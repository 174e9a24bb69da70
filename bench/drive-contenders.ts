// drive() contenders for engine-drive.bench.ts, as one module so the same code runs under Node and,
// bundled, inside workerd. The work: a stream answering db:verify requests as Authoritative Server
// (XEP-0220 §2.2.2), the peer sending them `pending` at a time; every key is valid.
//   oneByOne-P: drive() as it was before batching (each key awaited and fed back alone): baseline.
//   drive-P:    drive() today (the keys queued at one time checked in one verifyMany).

import { Element } from "ltx";
import { DialbackKeys } from "../src/dialback/keys.js";
import { DEFAULT_ENGINE_LIMITS, drive, S2SStream, type PolicyView } from "../src/engine/index.js";
import { asDomain, asStreamId, type Domain } from "../src/types.js";
import { driveOneByOne } from "../test/unit/engine/harness.js";

export const PENDING = [1, 4, 16, 64] as const;
export type Contender = `${"oneByOne" | "drive"}-${(typeof PENDING)[number]}`;
export const CONTENDERS: Contender[] = PENDING.flatMap((p) => [`oneByOne-${p}`, `drive-${p}`] as Contender[]);

const SECRET = "drive-bench-secret-0123456789";
const AUTH = asDomain("montague.example");
const policy: PolicyView = {
  isHosted: (d: Domain) => d === AUTH,
  forRemote: () => ({ allowed: true, minLevel: "verified", bidi: false, onPairFailure: "keep-stream" }),
  limits: () => DEFAULT_ENGINE_LIMITS,
};
const header = {
  xmlns: "jabber:server",
  "xmlns:db": "jabber:server:dialback",
  "xmlns:stream": "http://etherx.jabber.org/streams",
  from: "capulet.example",
  to: AUTH,
  version: "1.0",
};

let keys: DialbackKeys;
let requests: Element[] = [];

/** n db:verify requests with valid keys (not timed). */
export async function prepare(n: number): Promise<void> {
  keys = new DialbackKeys(SECRET);
  requests = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const from = asDomain(`r${i % 100}.capulet.example`);
      const id = `stream${i}`;
      const key = await keys.generate({ receiving: from, originating: AUTH, streamId: asStreamId(id) });
      return new Element("db:verify", { from, to: AUTH, id }).t(key);
    }),
  );
}

/** Answers every prepared request, `pending` arriving before each drain; returns the valid answers. */
export async function run(which: Contender): Promise<number> {
  const [mode, p] = which.split("-") as ["oneByOne" | "drive", string];
  const pending = Number(p);
  const doDrive = mode === "drive" ? drive : driveOneByOne;
  const s = new S2SStream({ role: "receiving", policy, transport: { secure: true, canStartTls: false }, now: 0 });
  s.handleOpen(header, 0);
  s.drainActions();
  let valid = 0;
  for (let b = 0; b < requests.length; b += pending) {
    for (let i = b; i < Math.min(b + pending, requests.length); i++) s.handleElement(requests[i]!, 0);
    for (const a of await doDrive(s, keys, () => 0)) {
      if (a.type === "send" && a.data.kind === "element" && a.data.element.attrs.type === "valid") valid++;
    }
  }
  return valid;
}
