// drive() with several keys pending: the batched drive() (one verifyMany per drain) against the
// one-at-a-time drive() it replaced, measured in the same run, under Node and inside workerd
// (Miniflare). The work per row: N db:verify requests answered as Authoritative Server, arriving
// `pending` at a time (1: the usual trickle; 64: a burst, e.g. a peer re-verifying after restart).
// Contenders: bench/drive-contenders.ts. The output also counts as a check: every row must answer
// all N keys valid.

import { CONTENDERS, PENDING, prepare, run, type Contender } from "./drive-contenders.js";
import { race, startInWorkerd } from "./contenders.js";

const N = 16384;
const ROUNDS = 9;

function report(title: string, best: Record<Contender, number>): void {
  console.log(title);
  for (const p of PENDING) {
    const base = best[`oneByOne-${p}`];
    const now = best[`drive-${p}`];
    const rate = (seconds: number) => `${(N / seconds).toFixed(0).padStart(7)}/s`;
    console.log(
      `  ${String(p).padStart(3)} pending: one at a time ${rate(base)}, batched ${rate(now)}  ratio ${(base / now).toFixed(2)}x`,
    );
  }
}

export default async function bench(): Promise<void> {
  await prepare(N);
  report(`Node ${process.version} (${N} db:verify per row, best of ${ROUNDS}; ratio = batched / one at a time):`, await race(CONTENDERS, ROUNDS, N, run));
  try {
    const w = await startInWorkerd("bench/drive-contenders.ts", N);
    try {
      report(`workerd via Miniflare (${N} db:verify per request, best of ${ROUNDS}):`, await race(CONTENDERS, ROUNDS, N, (c) => w.run(c)));
    } finally {
      await w.dispose();
    }
  } catch (e) {
    console.log(`workerd run not possible here: ${(e as Error).message}`);
  }
}
