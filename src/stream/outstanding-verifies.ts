// The Receiving Server's table of outstanding db:verify requests on one stream, keyed by
// (from, to, id) (XEP-0220 §2.1.2, §4.1). Bookkeeping only: no stanza is sent from here, so both
// verification.ts (answers) and ending.ts / timers.ts (stream end, deadlines) can use it without a cycle.

import { verifyKey, type OutstandingVerify } from "../dialback/pairs.js";
import type { Ctx } from "./context.js";

/** Forgets one outstanding request (answered, timed out, or its stream ended). */
export function dropVerify(c: Ctx, v: OutstandingVerify): void {
  c.verifyByHandle.delete(v.handle);
  const k = verifyKey(v.from, v.to, v.id);
  const list = c.verifies.get(k);
  if (!list) return;
  const i = list.indexOf(v);
  if (i >= 0) list.splice(i, 1);
  if (list.length === 0) c.verifies.delete(k);
}
