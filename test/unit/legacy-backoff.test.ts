import { describe, expect, it } from "vitest";
import { CLI_BACKOFF, LegacyBackoff, RUNNER_BACKOFF } from "../../clients/legacy/backoff.js";

describe("legacy backoff (docs/legacy-protocol.md section 10)", () => {
  it("doubles from 1 s to the cap without jitter, and resets on open", () => {
    const cli = new LegacyBackoff(CLI_BACKOFF.initialMs, CLI_BACKOFF.maxMs);
    expect(Array.from({ length: 7 }, () => cli.next())).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
    cli.reset();
    expect(cli.next()).toBe(1_000);
    const runner = new LegacyBackoff(RUNNER_BACKOFF.initialMs, RUNNER_BACKOFF.maxMs);
    expect(Array.from({ length: 8 }, () => runner.next()).at(-1)).toBe(60_000);
  });
});
