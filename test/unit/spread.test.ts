import { describe, expect, it } from "vitest";
import { runSpread } from "../../server/io/spread.js";

describe("runSpread", () => {
  it("runs every action once, in order, not all in the first batch, and resolves after the last", async () => {
    const ran: number[] = [];
    const actions = Array.from({ length: 45 }, (_, i) => () => void ran.push(i));
    const done = runSpread(actions, 100);
    // The first batch runs at once; the rest wait for their turn.
    expect(ran.length).toBeGreaterThan(0);
    expect(ran.length).toBeLessThan(45);
    await done;
    expect(ran).toEqual(Array.from({ length: 45 }, (_, i) => i));
  });

  it("runs everything at once when the spread is 0", async () => {
    const ran: number[] = [];
    const done = runSpread([() => void ran.push(1), () => void ran.push(2)], 0);
    expect(ran).toEqual([1, 2]);
    await done;
  });
});
