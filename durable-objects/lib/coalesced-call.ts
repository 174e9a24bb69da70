// Many callers, few RPCs: a call to another Durable Object costs the runtime far more than the work
// it asks for (~0.7-2.8 ms of workerd CPU per call under `wrangler dev` and the vitest pool, measured
// with empty methods), so calls that can be answered together go together. Up to `maxInFlight` batches
// are in flight at a time (default one); calls made meanwhile form the next one. An idle caller waits
// for nothing (its call goes at once, alone) and a busy one sends one call per round trip instead of
// one per item (issue 11: 200 pairs arriving at once took 200 budget admissions and 200 releases).
// More than one in flight keeps a slow batch (a verification that waits for its deadline) from
// holding every later item for its whole duration.

interface Waiting<I, O> {
  item: I;
  resolve(out: O): void;
  reject(err: unknown): void;
}

export class CoalescedCall<I, O> {
  #queue: Waiting<I, O>[] = [];
  #inFlight = 0;

  constructor(
    /** One call for `items`; resolves with one answer per item, in order. */
    private readonly send: (items: I[]) => Promise<O[]>,
    /** Items per call at most (an RPC's arguments are one message). */
    private readonly maxBatch = 256,
    /** Batches in flight at once at most. */
    private readonly maxInFlight = 1,
  ) {}

  call(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      if (this.#inFlight < this.maxInFlight) this.#next();
    });
  }

  #next(): void {
    const batch = this.#queue.splice(0, this.maxBatch);
    if (batch.length === 0) return;
    this.#inFlight++;
    Promise.resolve()
      .then(() => this.send(batch.map((w) => w.item)))
      .then((outs) => {
        if (outs.length !== batch.length) throw new Error(`batched call answered ${outs.length} of ${batch.length} items`);
        batch.forEach((w, i) => w.resolve(outs[i]!));
      })
      .catch((err: unknown) => {
        for (const w of batch) w.reject(err);
      })
      .finally(() => {
        this.#inFlight--;
        this.#next();
      });
  }
}
