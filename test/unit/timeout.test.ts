import { describe, expect, it } from "vitest";
import { TimeoutError, withTimeout } from "../../server/timeout.js";

/** One promise bounded by its own timer: health checks and the cluster presence lookup use it. */
describe("withTimeout", () => {
  it("answers with the promise's value when it settles in time", async () => {
    await expect(withTimeout(Promise.resolve(42), 1_000)).resolves.toBe(42);
  });

  it("rejects with TimeoutError when the promise does not settle in time", async () => {
    const never = new Promise<number>(() => undefined);
    await expect(withTimeout(never, 20)).rejects.toBeInstanceOf(TimeoutError);
  });

  it("passes the promise's own rejection on, as an Error", async () => {
    await expect(withTimeout(Promise.reject(new Error("down")), 1_000)).rejects.toThrow("down");
    await expect(withTimeout(Promise.reject("plain"), 1_000)).rejects.toThrow("plain");
  });
});
