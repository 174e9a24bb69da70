// A Durable Object's one alarm, written only when it must fire sooner or not at all. Every stream step
// moves some deadline (negotiation, dialback, idle), almost always later; setAlarm() is a storage
// write, and a write holds every message the DO sends until it is committed (the output gate), so
// moving the alarm at each step delayed each step's answer by a commit (issue 11.6). An alarm that
// fires earlier than needed costs one wake-up: the handler calls fired() and arms the next time.

export class AlarmSlot {
  /** The alarm this instance set; "unknown" before it set one, and once one fired (a handler may be a test's). */
  #armed: number | undefined | "unknown" = "unknown";

  constructor(private readonly storage: Pick<DurableObjectStorage, "setAlarm" | "deleteAlarm">) {}

  /** The earliest time anything in the DO needs the alarm; undefined: nothing needs it any more. */
  want(at: number | undefined): void {
    if (at === undefined || at === Infinity) {
      if (this.#armed === undefined) return;
      this.#armed = undefined;
      void this.storage.deleteAlarm();
      return;
    }
    if (typeof this.#armed === "number" && this.#armed <= at) return;
    this.#armed = at;
    void this.storage.setAlarm(at);
  }

  /** The alarm fired (the handler runs): what is stored is no longer known until the next want(). */
  fired(): void {
    this.#armed = "unknown";
  }
}
