import { monitorEventLoopDelay } from "node:perf_hooks";
import { latencyStats, type LatencyStats } from "../lib/stats.js";
import { sleep, type FaultCluster } from "./cluster.js";
import { SESSIONS_PER_USER, Workload, type SessionTrack, type Stack } from "./workload.js";

export const SCENARIOS = ["kill", "rolling", "redis-restart", "redis-cut"] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export const SCENARIO_TITLES: Record<ScenarioName, string> = {
  kill: "kill -9 of a node",
  rolling: "rolling restart (SIGTERM each node in turn)",
  "redis-restart": "Redis restart with AOF",
  "redis-cut": "one node cut from Redis",
};

export interface ScenarioOptions {
  sessions: number;
  rate: number;
  /** Load before the fault. */
  warmupMs: number;
  /** Load after every client is back (deliveries catch up, nothing more is lost). */
  settleMs: number;
  /** Rolling restart: between one node's replacement being up and the next SIGTERM. */
  rollingGapMs: number;
  /** Redis cut: how long the node is without Redis. */
  cutMs: number;
  /** Longest wait for every client to be back. */
  backTimeoutMs: number;
  log?: (line: string) => void;
}

export interface StackFigures {
  /** Workload events the relay acknowledged to CLIs of this stack. */
  acked: number;
  /** Acknowledged events a viewer of this stack should have shown and did not (summed over viewers). */
  lost: number;
  /** Events a viewer of this stack showed twice. */
  duplicated: number;
  /** Events a viewer of this stack showed after a later one. */
  outOfOrder: number;
  /** From losing the relay to being usable again, per client of this stack that lost it. */
  back: LatencyStats;
  /**
   * Per session, the longest time a viewer of this stack went without a new event during the scenario
   * (the user's view of the interruption; nominally 1000 / rate ms).
   */
  pause: LatencyStats;
}

export interface ScenarioReport {
  scenario: ScenarioName;
  sessions: number;
  rate: number;
  /** Acknowledged events that are not in the session's log at the end (acknowledged, never stored). */
  ackedNotStored: number;
  stacks: Record<Stack, StackFigures>;
  /** Clients still without the relay when the scenario ended. */
  neverBack: number;
  /** Sessions that ended under the workload (they should not). */
  sessionsEnded: number;
  /** Back times by kind of client (`cli`, `viewer`, `legacy-viewer`, `hub`...). */
  byKind: Record<string, LatencyStats>;
  /** Socket.IO clients: from their last reconnection attempt to being usable, by kind (the relay's share). */
  sinceAttemptByKind: Record<string, LatencyStats>;
  /** Socket.IO clients: last reconnection attempt → namespace connect, and connect → usable by kind. */
  attemptToConnect: LatencyStats;
  connectToReadyByKind: Record<string, LatencyStats>;
  /**
   * The harness's own event-loop delay from the fault until every client was back (ms): when it is
   * large, back times include the harness's lag, not only the relay's.
   */
  harnessLag: { p99: number; max: number };
  /** A few examples of what went wrong, for the person reading. */
  examples: string[];
  durationMs: number;
}

/**
 * One scenario on a running cluster with a fresh workload: warm up, inject the fault, wait until every
 * client is back, settle, stop publishing, let the deliveries finish, then compare what the CLIs were
 * acknowledged, what the session logs hold and what every viewer showed.
 */
export async function runScenario(cluster: FaultCluster, name: ScenarioName, options: ScenarioOptions): Promise<ScenarioReport> {
  const log = options.log ?? (() => undefined);
  const started = Date.now();
  const users = await cluster.users(Math.ceil(options.sessions / SESSIONS_PER_USER));
  const workload = new Workload({ url: cluster.url, users, sessions: options.sessions, rate: options.rate, log });
  try {
    await workload.start();
    workload.startPublishing();
    await sleep(options.warmupMs);
    log(`scenario ${name}: ${SCENARIO_TITLES[name]}`);
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    switch (name) {
      case "kill":
        await cluster.killNode(0);
        break;
      case "rolling":
        await cluster.rollingRestart(options.rollingGapMs);
        break;
      case "redis-restart":
        await cluster.restartRedis();
        break;
      case "redis-cut":
        await cluster.cutRedis(1, options.cutMs);
        break;
    }
    const deadline = Date.now() + options.backTimeoutMs;
    while (workload.outages.stillDown.length > 0 && Date.now() < deadline) await sleep(100);
    lag.disable();
    const harnessLag = { p99: lag.percentile(99) / 1e6, max: lag.max / 1e6 };
    await sleep(options.settleMs);
    workload.stopPublishing();
    const flushed = await workload.flushed(15_000);
    if (!flushed) log("  (some Socket.IO CLIs still had unacknowledged events after 15 s)");
    await sleep(2_000);
    const report = await analyse(cluster, name, workload, options);
    report.durationMs = Date.now() - started;
    report.harnessLag = harnessLag;
    return report;
  } finally {
    await workload.close();
  }
}

async function analyse(cluster: FaultCluster, name: ScenarioName, workload: Workload, options: ScenarioOptions): Promise<ScenarioReport> {
  const examples: string[] = [];
  const example = (line: string): void => {
    if (examples.length < 8) examples.push(line);
  };
  const figures = (): Omit<StackFigures, "back" | "pause"> => ({ acked: 0, lost: 0, duplicated: 0, outOfOrder: 0 });
  const stacks = { socketio: figures(), legacy: figures() };
  const pauses: Record<Stack, number[]> = { socketio: [], legacy: [] };
  let ackedNotStored = 0;
  let sessionsEnded = 0;
  for (const track of workload.sessions) {
    const cliStack: Stack = track.kind === "legacy" ? "legacy" : "socketio";
    stacks[cliStack].acked += track.acked.size;
    if (track.ended.length > 0) {
      sessionsEnded++;
      example(`session ${track.index} (${track.kind}) ended: ${track.ended[0]}`);
    }
    const stored = await storedBySeq(cluster, track);
    const storedNs = new Set(stored.values());
    for (const n of track.acked) {
      if (!storedNs.has(n)) {
        ackedNotStored++;
        example(`session ${track.index} (${track.kind}): event ${n} acknowledged but not stored`);
      }
    }
    for (const stack of ["socketio", "legacy"] as const) {
      const times = track.viewers.filter((v) => v.stack === stack).flatMap((v) => v.times).sort((a, b) => a - b);
      let longest = 0;
      for (let i = 1; i < times.length; i++) longest = Math.max(longest, (times[i] as number) - (times[i - 1] as number));
      if (times.length > 1) pauses[stack].push(longest);
    }
    for (const viewer of track.viewers) {
      const f = stacks[viewer.stack];
      const seen = new Set<number>();
      let highest = 0;
      for (const n of viewer.ns) {
        if (seen.has(n)) {
          f.duplicated++;
          example(`session ${track.index}: ${viewer.stack} viewer showed event ${n} twice`);
        } else if (n < highest) {
          f.outOfOrder++;
          example(`session ${track.index}: ${viewer.stack} viewer showed event ${n} after ${highest}`);
        }
        seen.add(n);
        highest = Math.max(highest, n);
      }
      // What this viewer should have shown: every acknowledged event of its session (native viewers
      // resume by seq); for a legacy connection, those stored within the seqs it covered.
      const expected = viewer.stack === "socketio" ? [...track.acked] : legacyWindow(viewer.from, viewer.seqs, stored, track.acked);
      for (const n of expected) {
        if (!seen.has(n)) {
          f.lost++;
          example(`session ${track.index} (${track.kind}): ${viewer.stack} viewer never showed acknowledged event ${n}`);
        }
      }
    }
  }
  const stillDown = workload.outages.stillDown;
  for (const d of stillDown.slice(0, 3)) example(`${d.id} (${d.stack}) still without the relay after ${Math.round(d.forMs)} ms`);
  return {
    scenario: name,
    sessions: options.sessions,
    rate: options.rate,
    ackedNotStored,
    stacks: {
      socketio: { ...stacks.socketio, back: latencyStats(workload.outages.back.socketio), pause: latencyStats(pauses.socketio) },
      legacy: { ...stacks.legacy, back: latencyStats(workload.outages.back.legacy), pause: latencyStats(pauses.legacy) },
    },
    neverBack: stillDown.length,
    sessionsEnded,
    byKind: Object.fromEntries([...workload.outages.byKind].map(([kind, samples]) => [kind, latencyStats(samples)])),
    attemptToConnect: latencyStats(workload.outages.attemptToConnect),
    connectToReadyByKind: Object.fromEntries([...workload.outages.connectToReadyByKind].map(([kind, samples]) => [kind, latencyStats(samples)])),
    sinceAttemptByKind: Object.fromEntries([...workload.outages.sinceAttemptByKind].map(([kind, samples]) => [kind, latencyStats(samples)])),
    examples,
    durationMs: 0,
    harnessLag: { p99: 0, max: 0 },
  };
}

/** The session's stored workload events: seq → n. */
async function storedBySeq(cluster: FaultCluster, track: SessionTrack): Promise<Map<number, number>> {
  const bySeq = new Map<number, number>();
  if (!track.sessionId) return bySeq;
  for (const { seq, event } of await cluster.sessionLog(track.sessionId)) {
    const e = event as { src?: string; n?: number } | undefined;
    if (e?.src === "fault" && typeof e.n === "number") bySeq.set(seq, e.n);
  }
  return bySeq;
}

/**
 * The acknowledged events a legacy viewer connection had to show: those stored with a seq inside a
 * stretch it covered (after the position it joined at, up to the highest seq it received). A `-1`
 * marker in `seqs` starts a new stretch at the seq after it (a new incarnation of the session).
 */
function legacyWindow(from: number, seqs: number[], stored: Map<number, number>, acked: Set<number>): number[] {
  const stretches: Array<[number, number]> = [];
  let low = from;
  let high = from;
  for (let i = 0; i < seqs.length; i++) {
    const seq = seqs[i] as number;
    if (seq === -1) {
      stretches.push([low, high]);
      low = high = seqs[++i] as number;
      continue;
    }
    high = Math.max(high, seq);
  }
  stretches.push([low, high]);
  const out: number[] = [];
  for (const [seq, n] of stored) {
    if (acked.has(n) && stretches.some(([lo, hi]) => seq > lo && seq <= hi)) out.push(n);
  }
  return out;
}
