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
 *
 * The embedded state's stores live in this process and wait on nothing, except the API keys (files):
 * only those are bounded there. Bounding the others cost a promise, a closure and two set operations
 * per call on the event path, for a deadline that cannot pass (docs/performance.md "Where time went").
 */
export function withTimeouts(state: SharedState, deadlines: Deadlines): SharedState {
  /** The same store, with each of its methods bounded (each bound method made once, on first use). */
  const wrap = <S extends object>(store: S): S => {
    const bounded = new Map<PropertyKey, { of: unknown; method: (...args: unknown[]) => Promise<unknown> }>();
    return new Proxy(store, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== "function") return value;
        const known = bounded.get(property);
        if (known !== undefined && known.of === value) return known.method;
        const call = value as (...a: unknown[]) => unknown;
        const method = (...args: unknown[]): Promise<unknown> => deadlines.bound(Promise.resolve(call.apply(target, args)));
        bounded.set(property, { of: value, method });
        return method;
      },
    });
  };
  const inProcess = state.kind === "memory";
  const maybeWrap = <S extends object>(store: S): S => (inProcess ? store : wrap(store));

  return {
    kind: state.kind,
    keys: wrap(state.keys),
    logins: maybeWrap(state.logins),
    sessions: maybeWrap(state.sessions),
    runners: maybeWrap(state.runners),
    terminals: maybeWrap(state.terminals),
    push: maybeWrap(state.push),
    ping: () => deadlines.bound(state.ping()),
    close: () => state.close(),
  };
}
