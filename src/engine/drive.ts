// The one async step a shell needs: perform the engine's key work (XEP-0185 HMAC via WebCrypto)
// and feed the results back, returning every other action in order for the shell to carry out.

import type { DialbackKeys } from "../dialback/keys.js";
import type { Action } from "./actions.js";
import type { S2SStream } from "../stream/s2s-stream.js";

/** Everything but key work: what the shell itself must do (send, verify, deliver, ...). */
export type ShellAction = Exclude<Action, { type: "key" }>;

/**
 * Drains `stream`, doing key actions with `keys` until none are left. `now` is read after each key
 * computation (pass the shell's clock, e.g. `() => Date.now()` in a Durable Object).
 * Inputs that arrive while this awaits may be fed to the stream concurrently; they are safe.
 */
export async function drive(stream: S2SStream, keys: DialbackKeys, now: () => number): Promise<ShellAction[]> {
  const out: ShellAction[] = [];
  for (;;) {
    const a = stream.pollAction();
    if (a === undefined) return out;
    if (a.type !== "key") {
      out.push(a);
      continue;
    }
    if (a.op === "generate") stream.handleKeyGenerated(a.handle, await keys.generate(a.input), now());
    // keys.verify compares in constant time against every accepted secret (CVE-2021-32921).
    else stream.handleKeyChecked(a.handle, await keys.verify(a.input, a.key), now());
  }
}
