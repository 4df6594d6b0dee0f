import type { RunnerReply } from "../../protocol/index.js";

export type PendingOutcome = { kind: "reply"; reply: RunnerReply } | { kind: "timeout" } | { kind: "gone" };

interface Waiter {
  runnerId: string;
  settle: (outcome: PendingOutcome) => void;
}

/**
 * Requests this node sent to a runner and is waiting on (REST spawn and skill calls), keyed by their
 * correlation id. The runner may sit on any node: its node routes the reply here (runner_reply), and a
 * runner's departure rejects its requests (runner_gone). A reply counts only from the runner that was
 * asked; anything else is ignored. This map holds waiters, never sockets: delivery is through rooms.
 */
export class PendingRequests {
  private readonly waiters = new Map<string, Waiter>();

  wait(key: string, runnerId: string, timeoutMs: number): Promise<PendingOutcome> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish({ kind: "timeout" }), timeoutMs);
      const finish = (outcome: PendingOutcome): void => {
        clearTimeout(timer);
        if (this.waiters.get(key)?.settle === finish) this.waiters.delete(key);
        resolve(outcome);
      };
      this.waiters.get(key)?.settle({ kind: "timeout" });
      this.waiters.set(key, { runnerId, settle: finish });
    });
  }

  /** True when a waiter of that runner took the reply. */
  settle(key: string, runnerId: string, reply: RunnerReply): boolean {
    const waiter = this.waiters.get(key);
    if (!waiter || waiter.runnerId !== runnerId) return false;
    waiter.settle({ kind: "reply", reply });
    return true;
  }

  runnerGone(runnerId: string): void {
    for (const waiter of [...this.waiters.values()]) if (waiter.runnerId === runnerId) waiter.settle({ kind: "gone" });
  }

  get size(): number {
    return this.waiters.size;
  }

  close(): void {
    for (const waiter of [...this.waiters.values()]) waiter.settle({ kind: "gone" });
  }
}
