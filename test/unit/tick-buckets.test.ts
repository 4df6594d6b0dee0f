import { describe, expect, it } from "vitest";
import { TickBuckets } from "../../server/sessions/tick-buckets.js";

/** The schedule of the ack coalescer's timer: each tick takes only what fell due since the last one. */
describe("TickBuckets", () => {
  it("hands an item over on the first take at or after its due moment, never before", () => {
    const buckets = new TickBuckets<string>(10);
    buckets.add("a", 25);
    expect(buckets.takeDue(20)).toEqual([]);
    expect(buckets.takeDue(29.9)).toEqual([]);
    expect(buckets.takeDue(30)).toEqual(["a"]);
    expect(buckets.takeDue(40)).toEqual([]);
    expect(buckets.size).toBe(0);
  });

  it("takes only the ticks that fell due, earliest first, leaving later items waiting", () => {
    const buckets = new TickBuckets<string>(10);
    buckets.takeDue(0);
    buckets.add("late", 95);
    buckets.add("early", 12);
    buckets.add("middle", 51);
    buckets.add("early-2", 18);
    expect(buckets.takeDue(20)).toEqual(["early", "early-2"]);
    expect(buckets.size).toBe(2);
    expect(buckets.takeDue(100)).toEqual(["middle", "late"]);
  });

  it("makes an item added for a moment already taken due on the next tick", () => {
    const buckets = new TickBuckets<string>(10);
    buckets.takeDue(100);
    buckets.add("overdue", 42);
    expect(buckets.takeDue(105)).toEqual([]);
    expect(buckets.takeDue(110)).toEqual(["overdue"]);
  });

  it("after a clear, or a long gap without takes, still hands over everything due in order", () => {
    const buckets = new TickBuckets<number>(5);
    buckets.add(1, 10);
    buckets.clear();
    expect(buckets.size).toBe(0);
    buckets.add(3, 1_000_000);
    buckets.add(2, 7);
    expect(buckets.takeDue(2_000_000)).toEqual([2, 3]);
  });

  it("refuses a tick that is not a positive length", () => {
    expect(() => new TickBuckets(0)).toThrow(RangeError);
  });
});
