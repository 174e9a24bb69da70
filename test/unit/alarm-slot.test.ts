// Issue 11.6: every stream step moves a deadline, and setAlarm() is a storage write that holds the
// DO's outgoing messages until it is committed; the alarm is now written only when it must fire
// sooner (durable-objects/lib/alarm-slot.ts), removed once nothing needs it, and re-armed after it fires.
import { describe, expect, it } from "vitest";
import { AlarmSlot } from "../../durable-objects/lib/alarm-slot.js";

function storage() {
  const writes: Array<number | "delete"> = [];
  return {
    writes,
    setAlarm: async (at: number | Date) => void writes.push(Number(at)),
    deleteAlarm: async () => void writes.push("delete"),
  };
}

describe("AlarmSlot", () => {
  it("writes the first time, then only when the alarm must come sooner", () => {
    const s = storage();
    const slot = new AlarmSlot(s);
    slot.want(5000);
    slot.want(9000); // later: the alarm at 5000 fires early and is re-armed then
    slot.want(5000);
    slot.want(3000);
    expect(s.writes).toEqual([5000, 3000]);
  });

  it("deletes the alarm once when nothing needs it any more", () => {
    const s = storage();
    const slot = new AlarmSlot(s);
    slot.want(4000);
    slot.want(undefined);
    slot.want(undefined);
    slot.want(Infinity);
    expect(s.writes).toEqual([4000, "delete"]);
  });

  it("removes an alarm an earlier instance may have left, once, when nothing needs one", () => {
    const s = storage();
    const slot = new AlarmSlot(s);
    slot.want(undefined);
    slot.want(undefined);
    expect(s.writes).toEqual(["delete"]);
  });

  it("after the alarm fired, the next time wanted is written even if later", () => {
    const s = storage();
    const slot = new AlarmSlot(s);
    slot.want(1000);
    slot.fired();
    slot.want(60_000);
    expect(s.writes).toEqual([1000, 60_000]);
  });

  it("after the alarm fired with nothing left to do, the stored alarm is removed", () => {
    const s = storage();
    const slot = new AlarmSlot(s);
    slot.want(1000);
    slot.fired();
    slot.want(undefined);
    expect(s.writes).toEqual([1000, "delete"]);
  });
});
