// Shared settings of the property-based tests (issue 15; files named *props.test.ts): a bounded
// number of runs under `npm test`, a fixed seed so a failure replays, and both printed on failure
// (fast-check's report names the seed and the shrunk path). `npm run test:props -- --runs 100000`
// (scripts/test-props.mjs) is the opt-in long run. Replay: PROPS_SEED=<seed> [PROPS_PATH=<path>].

import fc from "fast-check";

const int = (v: string | undefined, dflt: number) => (v === undefined || v === "" ? dflt : Number.parseInt(v, 10));

/** Runs per property: PROPS_RUNS, or the default that keeps `npm run test:unit` short. */
export const RUNS = int(process.env.PROPS_RUNS, 200);
/** The seed: fixed unless PROPS_SEED says otherwise. */
export const SEED = int(process.env.PROPS_SEED, 20261202);

/** fc.assert with the shared runs and seed; `weight` scales the runs of a costly property. */
export function check<T>(property: fc.IProperty<T>, weight = 1): void {
  const path = process.env.PROPS_PATH;
  fc.assert(property, {
    numRuns: Math.max(1, Math.round(RUNS * weight)),
    seed: SEED,
    ...(path ? { path } : {}),
  });
}

/** Test timeout for a property test: generous, and none in the long run. */
export const PROP_TIMEOUT = process.env.PROPS_RUNS ? 0 : 120_000;
