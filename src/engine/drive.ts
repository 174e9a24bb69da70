// The one async step a shell needs: perform the engine's key work (XEP-0185 HMAC via WebCrypto)
// and feed the results back, returning every other action in order for the shell to carry out.

import type { DialbackKeys, KeyCheck, KeyFormula } from "../dialback/keys.js";
import type { Action } from "./actions.js";
import type { S2SStream } from "../stream/s2s-stream.js";

/** Everything but key work: what the shell itself must do (send, verify, deliver, ...). */
export type ShellAction = Exclude<Action, { type: "key" }>;

type KeyAction = Extract<Action, { type: "key" }>;
type CheckAction = Extract<KeyAction, { op: "check" }>;

/**
 * Drains `stream`, doing key actions with `keys` until none are left. `now` is read before each
 * result is fed back (pass the shell's clock, e.g. `() => Date.now()` in a Durable Object).
 * Inputs that arrive while this awaits may be fed to the stream concurrently; they are safe.
 *
 * Every key action queued at one time is computed as one batch (checks through verifyMany, so
 * WebCrypto overlaps the HMACs), then the results are fed back in the order the actions came.
 * The shell sees the same actions in the same order as when keys were done one at a time: a fed
 * result only appends to the stream's queue, behind every action that was already in it, and
 * those are all polled (and returned, in order) before the batch is computed.
 */
export async function drive(stream: S2SStream, keys: DialbackKeys, now: () => number): Promise<ShellAction[]> {
  const out: ShellAction[] = [];
  for (;;) {
    const batch: KeyAction[] = [];
    for (let a = stream.pollAction(); a !== undefined; a = stream.pollAction()) {
      if (a.type === "key") batch.push(a);
      else out.push(a);
    }
    if (batch.length === 0) return out;
    if (batch.length === 1) {
      // The usual trickle: one key, no batch bookkeeping.
      const a = batch[0]!;
      // keys.verify compares in constant time against every accepted secret (CVE-2021-32921).
      if (a.op === "generate") stream.handleKeyGenerated(a.handle, await keys.generate(a.input), now());
      else stream.handleKeyChecked(a.handle, await keys.verify(a.input, a.key, a.formulas), now());
      continue;
    }
    const results = await keyWork(keys, batch);
    for (let i = 0; i < batch.length; i++) {
      const a = batch[i]!;
      if (a.op === "generate") stream.handleKeyGenerated(a.handle, results[i] as string, now());
      else stream.handleKeyChecked(a.handle, results[i] as boolean, now());
    }
  }
}

/** Results by position in `batch`: the key for "generate", the verdict for "check". */
async function keyWork(keys: DialbackKeys, batch: readonly KeyAction[]): Promise<(string | boolean)[]> {
  const first = batch[0]!;
  if (first.op === "check" && batch.every((a) => a.op === "check" && a.formulas === first.formulas)) {
    // The common burst: only checks, one set of formulas. verifyMany is constant-time per key too.
    return keys.verifyMany((batch as CheckAction[]).map(toCheck), first.formulas);
  }
  const results: (string | boolean)[] = new Array(batch.length);
  const work: Promise<void>[] = [];
  // Checks grouped by the formulas policy gave them (one group unless policy changed mid-batch).
  const groups = new Map<readonly KeyFormula[] | undefined, { at: number[]; checks: KeyCheck[] }>();
  batch.forEach((a, i) => {
    if (a.op === "generate") {
      work.push(keys.generate(a.input).then((k) => void (results[i] = k)));
      return;
    }
    const g = groups.get(a.formulas) ?? { at: [], checks: [] };
    groups.set(a.formulas, g);
    g.at.push(i);
    g.checks.push(toCheck(a));
  });
  for (const [formulas, g] of groups) {
    work.push(keys.verifyMany(g.checks, formulas).then((ok) => g.at.forEach((i, j) => void (results[i] = ok[j]!))));
  }
  await Promise.all(work);
  return results;
}

const toCheck = (a: CheckAction): KeyCheck => ({ input: a.input, key: a.key });
