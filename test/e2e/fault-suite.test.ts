import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FaultCluster } from "../../bench/faults/cluster.js";
import { runScenario, SCENARIOS, type ScenarioName, type ScenarioReport } from "../../bench/faults/scenario.js";

/**
 * The short fault suite (docs/operations.md, "Rolling restarts and faults"; the full one is
 * `npm run bench:faults`): three relay processes behind a real HAProxy that health-checks `/readyz`,
 * over one Redis with AOF, with CLIs of both stacks and every generation, viewers of both stacks and
 * hubs, through four faults: `kill -9` of a node, a rolling restart, a Redis restart, a node cut from
 * Redis. Nothing acknowledged may be lost, duplicated or reordered for any viewer, every client must
 * come back, and no session may end. How fast clients come back is measured by the benchmark, not
 * asserted here.
 */

const SESSIONS = 12;
let cluster: FaultCluster;

beforeAll(async () => {
  // Drain longer than HAProxy takes to mark a node down (500 ms × 2 checks).
  cluster = await FaultCluster.start({ drainDelayMs: 1_500, env: { PIZZAPI_SHUTDOWN_SPREAD_MS: "500" } });
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
}, 60_000);

describe("fault suite, short: 3 nodes behind HAProxy, Redis with AOF, both stacks", () => {
  it.each(SCENARIOS.map((s) => [s]))(
    "%s: nothing acknowledged lost, duplicated or out of order; every client back; no session ended",
    async (name: ScenarioName) => {
      const report: ScenarioReport = await runScenario(cluster, name, {
        sessions: SESSIONS,
        rate: 4,
        warmupMs: 2_000,
        settleMs: 2_000,
        rollingGapMs: 500,
        cutMs: 4_000,
        backTimeoutMs: 30_000,
      });
      const summary = JSON.stringify({ stacks: report.stacks, examples: report.examples, logs: cluster.logs().slice(-10) });
      // The workload really ran through the fault: both stacks had events acknowledged and clients to bring back.
      expect(report.stacks.socketio.acked, summary).toBeGreaterThan(0);
      expect(report.stacks.legacy.acked, summary).toBeGreaterThan(0);
      for (const stack of ["socketio", "legacy"] as const) {
        expect({ stack, lost: report.stacks[stack].lost, duplicated: report.stacks[stack].duplicated, outOfOrder: report.stacks[stack].outOfOrder }, summary).toEqual({
          stack,
          lost: 0,
          duplicated: 0,
          outOfOrder: 0,
        });
      }
      expect(report.ackedNotStored, summary).toBe(0);
      expect(report.neverBack, summary).toBe(0);
      expect(report.sessionsEnded, summary).toBe(0);
      if (name !== "redis-restart") {
        // A node was lost or moved its clients: clients of both stacks had to come back.
        expect(report.stacks.socketio.back.count + report.stacks.legacy.back.count, summary).toBeGreaterThan(0);
      }
    },
    120_000,
  );
});
