/**
 * The reconnect policy of the deployed v0.1.x clients (docs/legacy-protocol.md section 10): start at 1 s,
 * double after every close, cap (30 s for the CLI and the hub, 60 s for the runner daemon), reset to the
 * start on every successful open, no jitter.
 */
export class LegacyBackoff {
  private delay: number;

  constructor(
    readonly initialMs: number,
    readonly maxMs: number,
  ) {
    this.delay = initialMs;
  }

  /** The delay to wait before the next attempt; the one after it doubles (capped). */
  next(): number {
    const current = this.delay;
    this.delay = Math.min(this.delay * 2, this.maxMs);
    return current;
  }

  /** A connection opened: the next failure waits the initial delay again. */
  reset(): void {
    this.delay = this.initialMs;
  }
}

export const CLI_BACKOFF = { initialMs: 1_000, maxMs: 30_000 } as const;
export const HUB_BACKOFF = { initialMs: 1_000, maxMs: 30_000 } as const;
export const RUNNER_BACKOFF = { initialMs: 1_000, maxMs: 60_000 } as const;
