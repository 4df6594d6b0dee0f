import type { Counter, LabelValues } from "prom-client";

/**
 * Label-bound series of a prom-client counter whose increments add up in plain numbers, and reach the
 * counter when its registry is read (the counter's `collect`, which prom-client calls before every
 * read). prom-client's own bound child (`counter.labels(...)`) still hashes and checks its labels
 * object on every `inc`: on a per-event counter that was 1–2 % of a node's CPU at thousands of events
 * a second (docs/performance.md "Counting per event").
 */
export class DeferredCounts<L extends string> {
  private readonly series: Array<{ labels: LabelValues<L>; count: number }> = [];

  /** The series of `labels`: its `inc` adds one to a number. Bind once per label set and keep it. */
  bind(labels: LabelValues<L>): { inc(): void } {
    const entry = { labels, count: 0 };
    this.series.push(entry);
    return {
      inc: () => {
        entry.count++;
      },
    };
  }

  /** Adds to `counter` what each series counted since the last read. */
  flushInto(counter: Counter<L>): void {
    for (const entry of this.series) {
      if (entry.count === 0) continue;
      counter.inc(entry.labels, entry.count);
      entry.count = 0;
    }
  }
}
