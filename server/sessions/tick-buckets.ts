/**
 * Items by the tick they fall due on, for one periodic timer that handles, on each tick, only what is
 * due by then (server/sessions/ack-coalescer.ts): the work of a tick is what fell due since the last
 * one, however many items wait further ahead, so a fine tick costs little and spreads the work evenly.
 *
 * An item added for a moment already past (or inside the tick last taken) is due on the next tick.
 */
export class TickBuckets<T> {
  private readonly buckets = new Map<number, T[]>();
  /** The last tick taken; -Infinity when nothing was taken since the last `clear`. */
  private taken = Number.NEGATIVE_INFINITY;

  constructor(private readonly tickMs: number) {
    if (!(tickMs > 0)) throw new RangeError(`tickMs must be positive (got ${tickMs})`);
  }

  /** Items waiting. */
  get size(): number {
    let n = 0;
    for (const items of this.buckets.values()) n += items.length;
    return n;
  }

  /** `item` falls due at `dueAt` (the clock of `takeDue`'s `now`). */
  add(item: T, dueAt: number): void {
    const tick = Math.max(Math.ceil(dueAt / this.tickMs), this.taken + 1);
    const items = this.buckets.get(tick);
    if (items) items.push(item);
    else this.buckets.set(tick, [item]);
  }

  /** Removes and returns the items due by `now`, earliest tick first, each tick's in the order added. */
  takeDue(now: number): T[] {
    const upTo = Math.floor(now / this.tickMs);
    const due: T[] = [];
    if (this.buckets.size > 0) {
      // Tick by tick from the last one taken, unless the buckets are fewer than the ticks to walk (the
      // first take after a clear, or a timer that could not run for a long while).
      const ticks = Number.isFinite(this.taken) && upTo - this.taken <= this.buckets.size ? range(this.taken + 1, upTo) : [...this.buckets.keys()].filter((t) => t <= upTo).sort((a, b) => a - b);
      for (const tick of ticks) {
        const items = this.buckets.get(tick);
        if (!items) continue;
        this.buckets.delete(tick);
        for (const item of items) due.push(item);
      }
    }
    this.taken = Math.max(this.taken, upTo);
    return due;
  }

  /** Forgets every item (the timer stops). */
  clear(): void {
    this.buckets.clear();
    this.taken = Number.NEGATIVE_INFINITY;
  }
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i <= to; i++) out.push(i);
  return out;
}
