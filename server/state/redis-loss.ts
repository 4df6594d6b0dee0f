import type { Logger } from "../logger.js";

/** What the watchdog needs of a Redis client: node-redis's `isReady`. */
export interface ReadinessSource {
  readonly isReady: boolean;
}

/**
 * Notices that this node lost Redis for longer than a blip (docs/operations.md, "Rolling restarts and
 * faults"): when any of its Redis clients has not been ready for `afterMs`, `onLost` runs, once per
 * outage. A node without Redis cannot store or deliver anything, while its clients, connected to it,
 * keep trying; `/readyz` already sends new clients elsewhere. A shorter outage (a Redis restart) passes
 * without moving anyone.
 */
export function watchRedisLoss(options: { clients: ReadinessSource[]; afterMs: number; log: Logger; onLost: () => void }): { stop(): void } {
  if (options.afterMs <= 0 || options.clients.length === 0) return { stop: () => undefined };
  let since: number | null = null;
  let moved = false;
  const timer = setInterval(
    () => {
      if (options.clients.every((c) => c.isReady)) {
        if (moved) options.log.info("Redis is back");
        since = null;
        moved = false;
        return;
      }
      since ??= Date.now();
      if (!moved && Date.now() - since >= options.afterMs) {
        moved = true;
        options.log.warn({ forMs: Date.now() - since }, "Redis unreachable from this node: moving its clients to other nodes");
        options.onLost();
      }
    },
    Math.min(250, options.afterMs),
  );
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
