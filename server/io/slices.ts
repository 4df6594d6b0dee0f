/**
 * Items a periodic walk over a node's connections handles before it lets the event loop run again.
 * Walked in one go, 2,000 connections took the census 16–28 ms, a stall that every event in flight
 * waited out (docs/performance.md "Periodic walks").
 */
export const WALK_SLICE = 200;

/** Resolves once the event loop has had a turn: the I/O waiting meanwhile runs first. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * The items of `items`, with a turn of the event loop after every `slice` of them. Between slices the
 * iterable may change (connections come and go): a Map's iterator then yields what is still there.
 */
export async function* inSlices<T>(items: Iterable<T>, slice = WALK_SLICE): AsyncGenerator<T> {
  let n = 0;
  for (const item of items) {
    if (++n % slice === 0) await nextTurn();
    yield item;
  }
}
