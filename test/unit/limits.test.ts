import { describe, expect, it } from "vitest";
import { boundedText, cutToBytes } from "../../server/limits.js";

describe("cutToBytes", () => {
  it("keeps a string that fits and cuts one that does not to at most the byte budget", () => {
    expect(cutToBytes("hello", 5)).toBe("hello");
    expect(cutToBytes("hello world", 5)).toBe("hello");
    expect(boundedText(null, 5)).toBeNull();
  });

  it("never splits a multi-byte character or a surrogate pair", () => {
    // "é" is 2 bytes: 3 of them are 6 bytes, a budget of 5 keeps two.
    expect(cutToBytes("ééé", 5)).toBe("éé");
    // "😀" is a surrogate pair of 4 bytes: a budget of 6 keeps one, never half of the second.
    const cut = cutToBytes("😀😀", 6);
    expect(cut).toBe("😀");
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(6);
  });

  it("cuts a megabyte-long input down to the budget (the fuzz suite's stalled close reason)", () => {
    const cut = cutToBytes("a".repeat(4 << 20), 123);
    expect(cut).toBe("a".repeat(123));
  });
});
