/** Batches per spread: enough to smooth a reconnection storm, few enough timers. */
const BATCHES = 20;

/**
 * Runs `actions` in order, in batches spread evenly over `spreadMs` (all at once when it is 0), and
 * resolves when the last batch ran. A stopping node closes its connections this way so that the nodes
 * its clients move to get them over a second rather than in one burst (docs/operations.md, "Rolling
 * restarts and faults").
 */
export async function runSpread(actions: Array<() => void>, spreadMs: number): Promise<void> {
  if (spreadMs <= 0 || actions.length <= 1) {
    for (const action of actions) action();
    return;
  }
  const batches = Math.min(BATCHES, actions.length);
  const perBatch = Math.ceil(actions.length / batches);
  const pause = spreadMs / batches;
  for (let start = 0; start < actions.length; start += perBatch) {
    if (start > 0) await new Promise((resolve) => setTimeout(resolve, pause));
    for (const action of actions.slice(start, start + perBatch)) action();
  }
}
