/**
 * The fault suite (bench/README.md, "faults.ts"): three relay nodes behind haproxy over one Redis with
 * AOF, clients of both stacks and every generation, and four faults, each on a fresh workload:
 * `kill -9` of a node, a rolling restart, a Redis restart, one node cut from Redis. For each it prints
 * the events acknowledged, lost, duplicated and out of order per stack, and how long clients were
 * without the relay (p50/p99/max). Goals: 0 lost, 0 duplicated, 0 out of order everywhere; every
 * client back within 2 s at p99.
 *
 *   npx tsx bench/faults.ts                       # 300 sessions × 2 ev/s, every scenario
 *   npx tsx bench/faults.ts --sessions 20 --scenarios kill,rolling
 */
import { writeFileSync } from "node:fs";
import { Command, InvalidArgumentError } from "commander";
import { fmt, table } from "./lib/stats.js";
import { FaultCluster } from "./faults/cluster.js";
import { runScenario, SCENARIO_TITLES, SCENARIOS, type ScenarioName, type ScenarioReport } from "./faults/scenario.js";

const positive = (value: string): number => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("a positive number");
  return n;
};
const scenarioList = (value: string): ScenarioName[] => {
  const names = value === "all" ? [...SCENARIOS] : value.split(",").map((s) => s.trim());
  for (const n of names) if (!(SCENARIOS as readonly string[]).includes(n)) throw new InvalidArgumentError(`one of ${SCENARIOS.join(", ")} or all`);
  return names as ScenarioName[];
};

const program = new Command("faults")
  .description("fault suite: kill -9, rolling restart, Redis restart (AOF), node cut from Redis")
  .option("--sessions <n>", "sessions (CLIs), half legacy", positive, 300)
  .option("--rate <n>", "events per second per session", positive, 2)
  .option("--scenarios <list>", `comma list of ${SCENARIOS.join(", ")}, or all`, scenarioList, [...SCENARIOS])
  .option("--warmup <ms>", "load before the fault", positive, 5_000)
  .option("--settle <ms>", "load after every client is back", positive, 5_000)
  .option("--gap <ms>", "rolling restart: pause between nodes", positive, 5_000)
  .option("--cut <ms>", "Redis cut: how long the node is without Redis", positive, 5_000)
  .option("--drain <ms>", "PIZZAPI_DRAIN_DELAY_MS of the nodes (longer than haproxy takes to mark one down: ~1 s)", positive, 2_000)
  .option("--node-env <pairs>", "extra node environment, comma list of NAME=value (e.g. PIZZAPI_RECOVERY_WINDOW_MS=0)", (v: string) => v, "")
  .option("--node-args <args>", "extra arguments of every node's node binary, space-separated (e.g. \"--cpu-prof --cpu-prof-dir=/tmp/prof\")", (v: string) => v, "")
  .option("--json <file>", "also write the reports as JSON")
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
  .parse();

const opts = program.opts<{ sessions: number; rate: number; scenarios: ScenarioName[]; warmup: number; settle: number; gap: number; cut: number; drain: number; nodeEnv: string; nodeArgs: string; json?: string }>();
const nodeEnv = Object.fromEntries(
  opts.nodeEnv
    .split(",")
    .filter((pair) => pair.includes("="))
    .map((pair) => [pair.slice(0, pair.indexOf("=")).trim(), pair.slice(pair.indexOf("=") + 1).trim()]),
);
const log = (line: string): void => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);

let cluster: FaultCluster | null = null;
const cleanUp = (): void => {
  for (const node of cluster?.nodes ?? []) node.killNow();
};
process.on("exit", cleanUp);
process.on("SIGINT", () => process.exit(130));

function print(report: ScenarioReport): void {
  const rows = [["stack", "acked", "lost", "duplicated", "out of order", "clients back", "p50 ms", "p99 ms", "max ms", "viewer pause p50", "p99", "max"]];
  for (const stack of ["socketio", "legacy"] as const) {
    const f = report.stacks[stack];
    const p = f.pause;
    rows.push([stack, String(f.acked), String(f.lost), String(f.duplicated), String(f.outOfOrder), String(f.back.count), fmt(f.back.p50, 0), fmt(f.back.p99, 0), fmt(f.back.max, 0), fmt(p.p50, 0), fmt(p.p99, 0), fmt(p.max, 0)]);
  }
  console.log(`\n## ${SCENARIO_TITLES[report.scenario]}: ${report.sessions} sessions × ${report.rate} ev/s (${Math.round(report.durationMs / 1000)} s)\n`);
  console.log(table(rows));
  console.log(`acknowledged but not stored: ${report.ackedNotStored}; clients never back: ${report.neverBack}; sessions ended: ${report.sessionsEnded}`);
  const clean = report.ackedNotStored === 0 && report.neverBack === 0 && report.sessionsEnded === 0 && (["socketio", "legacy"] as const).every((s) => report.stacks[s].lost + report.stacks[s].duplicated + report.stacks[s].outOfOrder === 0);
  const p99 = Math.max(report.stacks.socketio.back.p99 || 0, report.stacks.legacy.back.p99 || 0);
  console.log(`goal 0 lost / 0 duplicated / 0 out of order: ${clean ? "MET" : "NOT MET"}; goal back within 2 s p99: ${p99 <= 2_000 ? "MET" : "NOT MET"} (${fmt(p99, 0)} ms)`);
  const kinds = Object.entries(report.byKind).map(([kind, s]) => `${kind} ${s.count}× p50 ${fmt(s.p50, 0)} p99 ${fmt(s.p99, 0)}`);
  if (kinds.length > 0) console.log(`back by client kind: ${kinds.join("; ")}`);
  const relayShare = Object.entries(report.sinceAttemptByKind).map(([kind, s]) => `${kind} ${s.count}× p50 ${fmt(s.p50, 0)} p99 ${fmt(s.p99, 0)}`);
  if (relayShare.length > 0) console.log(`Socket.IO clients, from their last reconnection attempt to usable: ${relayShare.join("; ")}`);
  const a = report.attemptToConnect;
  const afterConnect = Object.entries(report.connectToReadyByKind).map(([kind, s]) => `${kind} p50 ${fmt(s.p50, 0)} p99 ${fmt(s.p99, 0)}`);
  if (a.count > 0) console.log(`  of which attempt → connected p50 ${fmt(a.p50, 0)} p99 ${fmt(a.p99, 0)} ms; connected → usable: ${afterConnect.join("; ")}`);
  console.log(`harness event-loop delay during the outage: p99 ${fmt(report.harnessLag.p99, 0)} ms, max ${fmt(report.harnessLag.max, 0)} ms`);
  for (const line of report.examples) console.log(`  - ${line}`);
}

try {
  cluster = await FaultCluster.start({ drainDelayMs: opts.drain, env: nodeEnv, nodeArgs: opts.nodeArgs.split(" ").filter((a) => a !== ""), log });
} catch (err) {
  console.error(`could not set up the cluster: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
const reports: ScenarioReport[] = [];
/** How often each warn/error message appears in the nodes' logs (replaced nodes included). */
function messageCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of (cluster as FaultCluster).logs()) {
    const msg = /"msg":"([^"]*)"/.exec(line)?.[1] ?? line.slice(0, 80);
    counts.set(msg, (counts.get(msg) ?? 0) + 1);
  }
  return counts;
}

/**
 * The messages logged since `before` was counted. Counted, not sliced: a replaced node's lines move
 * within cluster.logs(), so a position taken earlier does not mark the same place later.
 */
function logSummary(before: Map<string, number>): string {
  const since = [...messageCounts()].map(([msg, n]) => [msg, n - (before.get(msg) ?? 0)] as const).filter(([, n]) => n > 0);
  return since.sort((a, b) => b[1] - a[1]).map(([msg, n]) => `${n}× ${msg}`).join("; ") || "none";
}

try {
  for (const name of opts.scenarios) {
    const logsBefore = messageCounts();
    const report = await runScenario(cluster, name, {
      sessions: opts.sessions,
      rate: opts.rate,
      warmupMs: opts.warmup,
      settleMs: opts.settle,
      rollingGapMs: opts.gap,
      cutMs: opts.cut,
      backTimeoutMs: 60_000,
      log,
    });
    reports.push(report);
    print(report);
    console.log(`node warnings and errors: ${logSummary(logsBefore)}`);
  }
} catch (err) {
  console.error(`scenario failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  console.error(`node warnings and errors (last 40):\n${cluster.logs().slice(-40).join("\n")}`);
  process.exitCode = 1;
} finally {
  await cluster.stop();
}
if (opts.json) writeFileSync(opts.json, JSON.stringify({ at: new Date().toISOString(), options: opts, reports }, null, 2));
process.exit(process.exitCode ?? 0);
