import { describe, expect, it } from "vitest";
import { inSlices } from "../../server/io/slices.js";

describe("inSlices", () => {
  it("yields every item in order, letting the event loop turn after each slice", async () => {
    const items = Array.from({ length: 7 }, (_, i) => i);
    let turns = 0;
    let walking = true;
    // An immediate queued now runs only once the walk yields to the event loop (microtasks do not).
    const countTurn = (): void => {
      turns++;
      if (walking) setImmediate(countTurn);
    };
    setImmediate(countTurn);
    const seen: Array<{ item: number; turns: number }> = [];
    try {
      for await (const item of inSlices(items, 3)) seen.push({ item, turns });
    } finally {
      walking = false;
    }
    expect(seen.map((s) => s.item)).toEqual(items);
    // Items 0-1 before any turn; item 2 (the third) after the first, 5 after the second.
    expect(seen.map((s) => s.turns)).toEqual([0, 0, 1, 1, 1, 2, 2]);
  });

  it("sees a Map's entries as they are when the walk reaches them", async () => {
    const map = new Map(Array.from({ length: 6 }, (_, i) => [i, `v${i}`]));
    const seen: number[] = [];
    for await (const [key] of inSlices(map, 2)) {
      seen.push(key);
      if (key === 0) {
        map.delete(4);
        map.set(9, "v9");
      }
    }
    expect(seen).toEqual([0, 1, 2, 3, 5, 9]);
  });
});
