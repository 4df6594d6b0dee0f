import { InvalidArgumentError } from "commander";

/**
 * A commander argument parser for an integer option within bounds: anything else is refused with
 * commander's InvalidArgumentError, which names the option (`option '--events <n>' argument '-3' is
 * invalid`) and ends the command with a usage error (exit 2, server/cli/main.ts).
 */
export function integerIn(min: number, max: number = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value: string): number => {
    const text = value.trim();
    const n = /^[+-]?\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(max === Number.MAX_SAFE_INTEGER ? `Expected an integer of at least ${min}.` : `Expected an integer from ${min} to ${max}.`);
    }
    return n;
  };
}
