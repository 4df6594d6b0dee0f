import type { SharedState } from "./types.js";

/** Shared state did not answer in time (or at all): callers answer 503 / `unavailable` / `auth_unavailable`. */
export class StateUnavailableError extends Error {
  override name = "StateUnavailableError";
}

interface Pending {
  deadline: number;
  fail: (err: Error) => void;
}

/**
 * Bounds promises to a deadline with one coarse timer for all of them (a timer per call would be one per
 * published event); the deadline is honoured within a tenth of the timeout.
 */
export class Deadlines {
  private readonly pending = new Set<Pending>();
  private readonly tick: NodeJS.Timeout;

  constructor(private readonly timeoutMs: number) {
    this.tick = setInterval(() => this.expire(), Math.max(10, Math.floor(timeoutMs / 10)));
    this.tick.unref();
  }

  bound<T>(call: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = { deadline: Date.now() + this.timeoutMs, fail: reject };
      this.pending.add(entry);
      call.then(
        (value) => {
          this.pending.delete(entry);
          resolve(value);
        },
        (err: unknown) => {
          this.pending.delete(entry);
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  stop(): void {
    clearInterval(this.tick);
  }

  private expire(): void {
    const now = Date.now();
    for (const p of this.pending) {
      if (p.deadline > now) continue;
      this.pending.delete(p);
      p.fail(new StateUnavailableError(`shared state did not answer within ${this.timeoutMs} ms`));
    }
  }
}

/**
 * Every call into shared state answers within the deadline, or rejects with StateUnavailableError: a
 * Redis that is paused, cut off or gone must never hang a handshake, a REST request or a frame.
 *
 * A call that timed out may still complete in Redis later: every caller treats "unavailable" as "not
 * done", and what it retries is idempotent or de-duplicated (claims bump a generation, publishes carry
 * a stream position).
 */
export function withTimeouts(state: SharedState, deadlines: Deadlines): SharedState {
  /** The same store, with each of its methods bounded. */
  const wrap = <S extends object>(store: S): S =>
    new Proxy(store, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => deadlines.bound(Promise.resolve((value as (...a: unknown[]) => unknown).apply(target, args)));
      },
    });

  return {
    kind: state.kind,
    keys: wrap(state.keys),
    logins: wrap(state.logins),
    sessions: wrap(state.sessions),
    runners: wrap(state.runners),
    terminals: wrap(state.terminals),
    push: wrap(state.push),
    ping: () => deadlines.bound(state.ping()),
    close: () => state.close(),
  };
}
