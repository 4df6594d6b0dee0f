/** A promise that did not settle within its time (`withTimeout`). */
export class TimeoutError extends Error {
  override name = "TimeoutError";
}

/**
 * `promise`, or a rejection with TimeoutError after `ms`, whichever comes first; the timer is cleared
 * either way; `what` names the wait in the error. For the few calls that bound one promise of their
 * own (health checks, a cluster presence lookup, the benchmarks' connects); the calls into shared state
 * share one coarse timer instead (server/state/timeouts.ts).
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, what = "no answer"): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new TimeoutError(`${what}: timed out after ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
