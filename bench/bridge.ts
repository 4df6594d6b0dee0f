/**
 * Bridge benchmark (bench/README.md): the legacy /ws/* path against the native Socket.IO path, in the
 * same run, on a real three-node cluster over one throwaway Redis (redis-streams adapter).
 *
 *   npx tsx bench/bridge.ts [--sessions 1000] [--rate 2] [--seconds 20] [--rounds 2] …
 *
 * Four combinations, CLI {native, legacy} × viewer {native, legacy}, run one after the other, each run
 * with fresh sessions. Session i's CLI connects to node i mod 3 and its viewer to node (i + 1) mod 3, so
 * every event crosses nodes through the adapter. Every event carries its send time; the viewer computes
 * the latency and checks the session `seq` for losses, duplicates and reordering.
 *
 * Each combination gets `--seconds` of measured steady publishing in all, split over `--rounds` runs in
 * ABBA order (round 1 in the order given, round 2 reversed, …): on a small machine the later runs of a
 * sequence are slower whatever the stack (README, "Order effects"), and alternating cancels that drift.
 *
 * A measurement, not a test: the exit code is 0 whatever the figures (1 only if the cluster could not
 * be set up at all, 2 for bad flags).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join, resolve } from "node:path";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { randomHex } from "../server/auth/secrets.js";
import { clusterState } from "../test/helpers/cluster.js";
import { startRedis, type TestRedis } from "../test/helpers/redis.js";
import {
  openLegacyCli,
  openLegacyViewer,
  openNativeCli,
  openNativeViewer,
  type Incidents,
  type OnEvent,
  type Publisher,
  type Watcher,
} from "./lib/clients.js";
import { awaitBenchMesh, benchLogin, startBenchNode, type BenchNode } from "./lib/cluster.js";
import { childPids, cpuBetween, parentOf, rssMiB, sampleAllProcs, sampleCpu, topOthers, type CpuSample, type CpuUsage } from "./lib/cpu.js";
import { ELD_RESOLUTION_MS, fmt, lagStats, latencyStats, markdownTable, pct, table, type LagStats, type LatencyStats } from "./lib/stats.js";

// ---------------------------------------------------------------------------------------------------
// Options

const USAGE = `npx tsx bench/bridge.ts [options]
  --sessions N   sessions per run (default 1000; 2 sockets each)
  --rate R       events per second per session (default 2)
  --seconds S    measured steady publishing per combination, split over the rounds (default 20)
  --rounds K     runs per combination, in ABBA order (default 2; 1 = each combination once, in order)
  --warmup W     publishing before each measured window, excluded (default 3)
  --drain D      max seconds to wait for in-flight events after publishing stops (default 5)
  --batch B      connections opened concurrently during setup (default 100)
  --settle S     pause after each run's teardown (default 2)
  --pad P        characters of text delta in each event (default 120)
  --prime P      before round 1, an unrecorded native → native and legacy → legacy run of P s each
                 (after the warm-up) so that both code paths are JIT-compiled in every process (default 3; 0: off)
  --quiet Q      before each run, wait up to Q s for other work on the machine to calm down (default 30; 0: off)
  --retries K    run again (up to K times) when other work used > 25% of a core during the window;
                 the least disturbed attempt is kept (default 2; 0: off)
  --phases LIST  comma list of nn, ln, nl, ll (CLI stack, then viewer stack), in the order of round 1
                 (default nn,ln,nl,ll)
  --markdown     also print the summary tables as Markdown
  --out DIR      results folder (default bench/results)`;

const { values: flags } = parseArgs({
  options: {
    sessions: { type: "string", default: "1000" },
    rate: { type: "string", default: "2" },
    seconds: { type: "string", default: "20" },
    rounds: { type: "string", default: "2" },
    warmup: { type: "string", default: "3" },
    drain: { type: "string", default: "5" },
    batch: { type: "string", default: "100" },
    settle: { type: "string", default: "2" },
    pad: { type: "string", default: "120" },
    quiet: { type: "string", default: "30" },
    prime: { type: "string", default: "3" },
    retries: { type: "string", default: "2" },
    phases: { type: "string", default: "nn,ln,nl,ll" },
    markdown: { type: "boolean", default: false },
    out: { type: "string", default: "" },
    help: { type: "boolean", default: false },
  },
  strict: true,
});

if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}

function numberFlag(name: string, raw: string | undefined, opts: { integer?: boolean; min: number }): number {
  const value = Number(raw);
  if (raw === undefined || raw.trim() === "" || !Number.isFinite(value) || value < opts.min || (opts.integer && !Number.isInteger(value))) {
    console.error(`--${name} must be ${opts.integer ? "an integer" : "a number"} ≥ ${opts.min} (got ${raw})\n\n${USAGE}`);
    process.exit(2);
  }
  return value;
}

const config = {
  sessions: numberFlag("sessions", flags.sessions, { integer: true, min: 1 }),
  rate: numberFlag("rate", flags.rate, { min: 0.01 }),
  seconds: numberFlag("seconds", flags.seconds, { min: 0.1 }),
  rounds: numberFlag("rounds", flags.rounds, { integer: true, min: 1 }),
  warmup: numberFlag("warmup", flags.warmup, { min: 0 }),
  drain: numberFlag("drain", flags.drain, { min: 0.1 }),
  batch: numberFlag("batch", flags.batch, { integer: true, min: 1 }),
  settle: numberFlag("settle", flags.settle, { min: 0 }),
  pad: numberFlag("pad", flags.pad, { integer: true, min: 0 }),
  quiet: numberFlag("quiet", flags.quiet, { min: 0 }),
  prime: numberFlag("prime", flags.prime, { min: 0 }),
  retries: numberFlag("retries", flags.retries, { integer: true, min: 0 }),
  nodes: 3,
};
/** Measured seconds of one run. */
const RUN_SECONDS = config.seconds / config.rounds;

type Stack = "native" | "legacy";
type Key = "nn" | "ln" | "nl" | "ll";
interface Combination {
  key: Key;
  cli: Stack;
  viewer: Stack;
  label: string;
}
const ALL: Combination[] = [
  { key: "nn", cli: "native", viewer: "native", label: "native → native" },
  { key: "ln", cli: "legacy", viewer: "native", label: "legacy → native" },
  { key: "nl", cli: "native", viewer: "legacy", label: "native → legacy" },
  { key: "ll", cli: "legacy", viewer: "legacy", label: "legacy → legacy" },
];
const wanted = (flags.phases ?? "").split(",").map((s) => s.trim()).filter(Boolean);
const combinations = wanted.map((w) => ALL.find((c) => c.key === w)).filter((c): c is Combination => c !== undefined);
if (combinations.length === 0 || combinations.length !== wanted.length || new Set(wanted).size !== wanted.length) {
  console.error(`--phases: expected a comma list of distinct nn, ln, nl, ll (got ${flags.phases})`);
  process.exit(2);
}

const GOAL_THROUGHPUT_RATIO = 0.8;
const GOAL_P99_DELTA_MS = 3;
/** Above these, the bench process itself may be part of what is measured. */
const CLIENT_LAG_P99_MS = 20;
const CLIENT_CPU_PCT = 85;
/** Machine-wide busy share (all cores) above which a run measures a saturated machine. */
const MACHINE_BUSY_PCT = 90;
/** Other work on the machine above this (% of one core) disturbs a run. */
const OTHER_CPU_PCT = 25;
const NPROC = os.availableParallelism?.() ?? os.cpus().length;

const ROOT = resolve(import.meta.dirname, "..");
const OUT_DIR = flags.out ? resolve(flags.out) : join(ROOT, "bench/results");

const nowAbs = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------------
// One run: fresh sessions of one combination, warm-up, measured window, drain, teardown

interface Track {
  /** Events the CLI published (seq 1..sent). */
  sent: number;
  seen: Set<number>;
  maxSeq: number;
}

interface Run {
  key: Key;
  label: string;
  round: number;
  /** Position of the run in the whole sequence (0-based). */
  position: number;
  sessions: number;
  setupFailures: number;
  setupSeconds: number;
  offeredPerSecond: number;
  /** Whole run, warm-up included. */
  sent: number;
  received: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
  /** Events without a seq or whose payload names another session or seq. */
  malformed: number;
  window: {
    seconds: number;
    /** Events sent inside the window. */
    sent: number;
    /** Events received (any sender time) inside the window. */
    receivedInWindow: number;
    throughputPerSecond: number;
    /** Events sent inside the window, whenever they arrived. */
    latencyMs: LatencyStats;
  };
  drainSeconds: number;
  drained: boolean;
  incidents: Incidents;
  client: { lagMs: LagStats; cpuPct: number | null };
  cpu: CpuUsage | null;
  /** CPU of processes outside this run (other work on the machine), % of one core; null off Linux. */
  otherCpuPct: number | null;
  /** The busiest of those (processes that were still alive at the window's end). */
  otherTop: Array<{ pid: number; comm: string; pct: number }>;
  /** Resident memory (MiB) at the window's end, sessions still open. */
  rssMiB: Record<string, number | null>;
  relayLogLines: number;
  /** Runs made for this slot (see --retries); the least disturbed is kept, the others summed up here. */
  attempts: number;
  discarded: Array<{ otherCpuPct: number | null; throughputPerSecond: number; p99Ms: number; lost: number }>;
}

async function inBatches<T>(count: number, batch: number, open: (i: number) => Promise<T>): Promise<Array<T | Error>> {
  const out: Array<T | Error> = new Array(count);
  for (let start = 0; start < count; start += batch) {
    const ids = Array.from({ length: Math.min(batch, count - start) }, (_, k) => start + k);
    const settled = await Promise.allSettled(ids.map((i) => open(i)));
    settled.forEach((s, k) => (out[ids[k] as number] = s.status === "fulfilled" ? s.value : s.reason instanceof Error ? s.reason : new Error(String(s.reason))));
  }
  return out;
}

interface Cluster {
  nodes: BenchNode[];
  apiKey: string;
  cookie: string;
  /** Processes of this run (relays, Redis) by label, for CPU and memory accounting. */
  pids: Record<string, number>;
  /** Every pid that belongs to this run (with the bench and its npx/tsx parents). */
  ours: Set<number>;
}

/** CPU of processes outside this run between two samples, % of one core. */
function otherCpu(cpu: CpuUsage, benchPct: number): number | null {
  if (cpu.machineBusyPct == null) return null;
  const ours = Object.values(cpu.procPct).reduce<number>((sum, v) => sum + (v ?? 0), 0) + benchPct;
  return Math.max(0, cpu.machineBusyPct * NPROC - ours);
}

/**
 * The machine is shared (2 cores here, with whatever else runs on it): before a run, wait up to
 * `--quiet` seconds for a one-second sample in which processes outside this run use less than
 * OTHER_CPU_PCT of a core.
 */
async function waitQuiet(cluster: Cluster): Promise<{ otherCpuPct: number | null; waitedSeconds: number }> {
  const begin = performance.now();
  let other: number | null = null;
  do {
    const a = sampleCpu(cluster.pids);
    const ca = process.cpuUsage();
    await sleep(1_000);
    const b = sampleCpu(cluster.pids);
    const used = process.cpuUsage(ca);
    other = otherCpu(cpuBetween(a, b), (100 * (used.user + used.system)) / 1000 / (b.at - a.at));
    if (other === null || other < OTHER_CPU_PCT) break;
  } while (performance.now() - begin < config.quiet * 1000);
  return { otherCpuPct: other, waitedSeconds: (performance.now() - begin) / 1000 };
}

async function runOnce(combo: Combination, round: number, position: number, cluster: Cluster, runSeconds = RUN_SECONDS): Promise<{ run: Run; latencies: Float64Array }> {
  const { nodes, apiKey, cookie, pids } = cluster;
  const n = config.sessions;
  const inc: Incidents = { cliErrors: 0, viewerErrors: 0, unexpectedCloses: 0, samples: [] };
  const logsBefore = nodes.reduce((a, node) => a + node.logs.length, 0);
  const cliNode = (i: number): BenchNode => nodes[i % nodes.length] as BenchNode;
  const viewerNode = (i: number): BenchNode => nodes[(i + 1) % nodes.length] as BenchNode;

  // Setup, in batches: CLIs first (registered sessions), then one viewer each on another node.
  const setupStart = performance.now();
  const openCli = combo.cli === "native" ? openNativeCli : openLegacyCli;
  const clis = await inBatches(n, config.batch, (i) => openCli(cliNode(i).url, apiKey, inc));
  const tracks: Array<Track | null> = clis.map((c) => (c instanceof Error ? null : { sent: 0, seen: new Set<number>(), maxSeq: 0 }));

  let received = 0;
  let duplicated = 0;
  let outOfOrder = 0;
  let malformed = 0;
  let receivedInWindow = 0;
  const latencies: number[] = [];
  let windowStartAbs = Infinity;
  let windowEndAbs = Infinity;

  const onEventFor =
    (i: number): OnEvent =>
    (seq, event) => {
      const at = nowAbs();
      const track = tracks[i];
      const bench = (event as { bench?: { s?: number; n?: number; t?: number } } | undefined)?.bench;
      if (!track || typeof seq !== "number" || !bench || typeof bench.t !== "number") {
        malformed++;
        return;
      }
      if (bench.s !== i || bench.n !== seq) malformed++;
      if (track.seen.has(seq)) {
        duplicated++;
        return;
      }
      track.seen.add(seq);
      if (seq < track.maxSeq) outOfOrder++;
      else track.maxSeq = seq;
      received++;
      if (at >= windowStartAbs && at < windowEndAbs) receivedInWindow++;
      if (bench.t >= windowStartAbs && bench.t < windowEndAbs) latencies.push(at - bench.t);
    };

  const openViewer = combo.viewer === "native" ? openNativeViewer : openLegacyViewer;
  const viewers = await inBatches<Watcher>(n, config.batch, async (i) => {
    const cli = clis[i];
    if (!cli || cli instanceof Error) throw cli ?? new Error("no CLI");
    return openViewer(viewerNode(i).url, cookie, cli.sessionId, onEventFor(i), inc);
  });
  const active: number[] = [];
  const failures: string[] = [];
  for (let i = 0; i < n; i++) {
    const c = clis[i];
    const v = viewers[i];
    if (c instanceof Error) failures.push(`CLI ${i}: ${c.message}`);
    else if (v instanceof Error) failures.push(`viewer ${i}: ${v.message}`);
    else active.push(i);
    if (c instanceof Error || v instanceof Error) tracks[i] = null;
  }
  const setupSeconds = (performance.now() - setupStart) / 1000;
  if (failures.length > 0) console.log(`    ${failures.length} session(s) failed to set up, e.g. ${failures.slice(0, 3).join("; ")}`);
  await sleep(500);

  // Publishing: one global schedule, the sessions evenly staggered over each 1/rate period.
  const m = active.length;
  const slotMs = 1000 / config.rate / Math.max(1, m);
  const totalSlots = Math.round(m * config.rate * (config.warmup + runSeconds));
  const pad = "x".repeat(config.pad);
  const start = performance.now() + 20;
  const t0 = start + config.warmup * 1000;
  const t1 = t0 + runSeconds * 1000;
  windowStartAbs = performance.timeOrigin + t0;
  windowEndAbs = performance.timeOrigin + t1;

  // The window's own accounting: the bench's event-loop lag and CPU, every process's CPU.
  const eld = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
  let cpuA: CpuSample | null = null;
  let cpuB: CpuSample | null = null;
  let allA: ReturnType<typeof sampleAllProcs> | null = null;
  let allB: ReturnType<typeof sampleAllProcs> | null = null;
  let benchCpuA: NodeJS.CpuUsage | null = null;
  let benchCpuPct: number | null = null;
  const windowTimers = [
    setTimeout(() => {
      eld.enable();
      cpuA = sampleCpu(pids);
      allA = sampleAllProcs();
      benchCpuA = process.cpuUsage();
    }, t0 - performance.now()),
    setTimeout(() => {
      eld.disable();
      cpuB = sampleCpu(pids);
      allB = sampleAllProcs();
      if (benchCpuA && cpuA) {
        const used = process.cpuUsage(benchCpuA);
        benchCpuPct = (100 * (used.user + used.system)) / 1000 / (cpuB.at - cpuA.at);
      }
    }, t1 - performance.now()),
  ];

  let windowSent = 0;
  let totalSent = 0;
  await new Promise<void>((done) => {
    let k = 0;
    const pump = (): void => {
      const now = performance.now();
      while (k < totalSlots && start + k * slotMs <= now) {
        const i = active[k % m] as number;
        const cli = clis[i] as Publisher;
        const track = tracks[i] as Track;
        const seq = ++track.sent;
        const t = nowAbs();
        cli.send(seq, { type: "message_update", assistantMessageEvent: { type: "text_delta", contentIndex: 0, delta: pad }, bench: { s: i, n: seq, t } });
        totalSent++;
        if (t >= windowStartAbs && t < windowEndAbs) windowSent++;
        k++;
      }
      if (k < totalSlots) setTimeout(pump, 1);
      else done();
    };
    setTimeout(pump, Math.max(0, start - performance.now()));
  });

  // Drain what is in flight.
  const drainStart = performance.now();
  while (received < totalSent && performance.now() - drainStart < config.drain * 1000) await sleep(25);
  const drainSeconds = (performance.now() - drainStart) / 1000;
  while (cpuB === null && performance.now() < t1 + 2_000) await sleep(10);
  for (const timer of windowTimers) clearTimeout(timer);

  const rss: Record<string, number | null> = { bench: process.memoryUsage().rss / 2 ** 20 };
  for (const [label, pid] of Object.entries(pids)) rss[label] = rssMiB(pid);
  let lost = 0;
  for (const i of active) {
    const track = tracks[i] as Track;
    lost += track.sent - track.seen.size;
  }

  // Teardown: viewers, then CLIs (explicit ends), then let the nodes settle.
  for (const v of viewers) if (!(v instanceof Error)) v.close();
  for (const c of clis) if (!(c instanceof Error)) c.close();
  await sleep(config.settle * 1000);

  const a = cpuA as CpuSample | null;
  const b = cpuB as CpuSample | null;
  const cpu = a && b ? cpuBetween(a, b) : null;
  const before = allA as ReturnType<typeof sampleAllProcs> | null;
  const after = allB as ReturnType<typeof sampleAllProcs> | null;
  const run: Run = {
    key: combo.key,
    label: combo.label,
    round,
    position,
    sessions: m,
    setupFailures: failures.length,
    setupSeconds,
    offeredPerSecond: m * config.rate,
    sent: totalSent,
    received,
    lost,
    duplicated,
    outOfOrder,
    malformed,
    window: {
      seconds: runSeconds,
      sent: windowSent,
      receivedInWindow,
      throughputPerSecond: receivedInWindow / runSeconds,
      latencyMs: latencyStats(latencies),
    },
    drainSeconds,
    drained: received >= totalSent,
    incidents: inc,
    client: { lagMs: lagStats(eld), cpuPct: benchCpuPct },
    cpu,
    otherCpuPct: cpu && benchCpuPct != null ? otherCpu(cpu, benchCpuPct) : null,
    otherTop: before && after && a && b ? topOthers(before, after, (b.at - a.at) / 1000, cluster.ours) : [],
    rssMiB: rss,
    relayLogLines: nodes.reduce((sum, node) => sum + node.logs.length, 0) - logsBefore,
    attempts: 1,
    discarded: [],
  };
  return { run, latencies: Float64Array.from(latencies) };
}

function runLine(r: Run): string {
  const l = r.window.latencyMs;
  return (
    `setup ${fmt(r.setupSeconds)} s; sent ${r.sent}, received ${r.received}, lost ${r.lost}, dup ${r.duplicated}, ooo ${r.outOfOrder}; ` +
    `${fmt(r.window.throughputPerSecond, 0)} ev/s; p50 ${fmt(l.p50, 2)} p99 ${fmt(l.p99, 2)} max ${fmt(l.max, 1)} ms; ` +
    `bench lag p99 ${fmt(r.client.lagMs.p99)} ms, bench CPU ${pct(r.client.cpuPct)}, machine ${pct(r.cpu?.machineBusyPct)}, other ${pct(r.otherCpuPct)}` +
    (r.otherTop.length ? ` (${r.otherTop.map((o) => `${o.comm}[${o.pid}] ${pct(o.pct)}`).join(", ")})` : "")
  );
}

/** One slot of the sequence, run again while other work on the machine disturbed it (--retries). */
async function runSlot(combo: Combination, round: number, position: number, cluster: Cluster): Promise<{ run: Run; latencies: Float64Array }> {
  let kept: { run: Run; latencies: Float64Array } | null = null;
  const discarded: Run["discarded"] = [];
  let attempts = 0;
  const brief = (x: Run): Run["discarded"][number] => ({
    otherCpuPct: x.otherCpuPct,
    throughputPerSecond: x.window.throughputPerSecond,
    p99Ms: x.window.latencyMs.p99,
    lost: x.lost,
  });
  for (let attempt = 0; attempt <= config.retries; attempt++) {
    attempts++;
    if (config.quiet > 0) {
      const q = await waitQuiet(cluster);
      if (q.otherCpuPct != null && (q.waitedSeconds > 1.5 || q.otherCpuPct >= OTHER_CPU_PCT))
        console.log(`    waited ${fmt(q.waitedSeconds)} s for other work on the machine to calm down (${pct(q.otherCpuPct)} of a core${q.otherCpuPct >= OTHER_CPU_PCT ? ", still busy: going on" : ""})`);
    }
    const result = await runOnce(combo, round, position, cluster);
    console.log(`    ${attempt > 0 ? `attempt ${attempt + 1}: ` : ""}${runLine(result.run)}`);
    if (!kept || (result.run.otherCpuPct ?? 0) < (kept.run.otherCpuPct ?? 0)) {
      if (kept) discarded.push(brief(kept.run));
      kept = result;
    } else discarded.push(brief(result.run));
    if ((result.run.otherCpuPct ?? 0) <= OTHER_CPU_PCT) break;
    if (attempt < config.retries) console.log(`    other work on the machine disturbed the window: running it again`);
  }
  const chosen = kept as { run: Run; latencies: Float64Array };
  return { run: { ...chosen.run, attempts, discarded }, latencies: chosen.latencies };
}

// ---------------------------------------------------------------------------------------------------
// Aggregation and report

interface ComboResult {
  key: Key;
  label: string;
  cli: Stack;
  viewer: Stack;
  runs: number;
  sessions: number;
  offeredPerSecond: number;
  sent: number;
  received: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
  malformed: number;
  /** Pooled over the runs: seconds and counts summed, latencies of all runs together. */
  window: { seconds: number; sent: number; receivedInWindow: number; throughputPerSecond: number; latencyMs: LatencyStats };
  /** Worst run. */
  benchLagP99Ms: number;
  /** Means over the runs. */
  benchCpuPct: number | null;
  machineBusyPct: number | null;
  otherCpuPct: number | null;
  /** The three relays together and Redis, % of one core (means over the runs). */
  relaysCpuPct: number | null;
  redisCpuPct: number | null;
  error?: string;
}

const mean = (xs: Array<number | null | undefined>): number | null => {
  const v = xs.filter((x): x is number => x != null && Number.isFinite(x));
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
};

/** The relays' CPU in a run's window, summed, % of one core. */
function relaysCpu(r: Run): number | null {
  if (!r.cpu) return null;
  const values = Object.entries(r.cpu.procPct)
    .filter(([label]) => label.startsWith("relay "))
    .map(([, v]) => v);
  return values.some((v) => v == null) ? null : values.reduce<number>((a, v) => a + (v ?? 0), 0);
}

function aggregate(combo: Combination, runs: Run[], latencies: Float64Array[], errors: string[]): ComboResult {
  const sum = (get: (r: Run) => number): number => runs.reduce((a, r) => a + get(r), 0);
  const pooled = new Float64Array(latencies.reduce((a, l) => a + l.length, 0));
  let offset = 0;
  for (const l of latencies) {
    pooled.set(l, offset);
    offset += l.length;
  }
  const seconds = sum((r) => r.window.seconds);
  const result: ComboResult = {
    key: combo.key,
    label: combo.label,
    cli: combo.cli,
    viewer: combo.viewer,
    runs: runs.length,
    sessions: Math.min(...runs.map((r) => r.sessions)),
    offeredPerSecond: mean(runs.map((r) => r.offeredPerSecond)) ?? 0,
    sent: sum((r) => r.sent),
    received: sum((r) => r.received),
    lost: sum((r) => r.lost),
    duplicated: sum((r) => r.duplicated),
    outOfOrder: sum((r) => r.outOfOrder),
    malformed: sum((r) => r.malformed),
    window: {
      seconds,
      sent: sum((r) => r.window.sent),
      receivedInWindow: sum((r) => r.window.receivedInWindow),
      throughputPerSecond: seconds > 0 ? sum((r) => r.window.receivedInWindow) / seconds : NaN,
      latencyMs: latencyStats(pooled),
    },
    benchLagP99Ms: Math.max(...runs.map((r) => r.client.lagMs.p99)),
    benchCpuPct: mean(runs.map((r) => r.client.cpuPct)),
    machineBusyPct: mean(runs.map((r) => r.cpu?.machineBusyPct)),
    otherCpuPct: mean(runs.map((r) => r.otherCpuPct)),
    relaysCpuPct: mean(runs.map((r) => relaysCpu(r))),
    redisCpuPct: mean(runs.map((r) => r.cpu?.procPct.redis)),
  };
  if (errors.length) result.error = errors.join("; ");
  return result;
}

interface Comparison {
  key: Key;
  label: string;
  throughputRatio: number;
  p99DeltaMs: number;
  throughputGoalMet: boolean;
  p99GoalMet: boolean;
  /** Relays' CPU (three nodes together) against native → native's: the bridge's cost, less noisy than p99. */
  relaysCpuRatio: number | null;
  /** The same figures round by round (this combination's run against native → native's in that round). */
  byRound: Array<{ round: number; throughputRatio: number; p99DeltaMs: number }>;
}

const GOAL_NAMES: Record<Key, string> = { nn: "native → native", ln: "legacy CLI", nl: "legacy viewer", ll: "legacy → legacy" };

function compare(combos: ComboResult[], runs: Run[]): Comparison[] {
  const base = combos.find((c) => c.key === "nn" && c.runs > 0);
  if (!base) return [];
  return combos
    .filter((c) => c.key !== "nn" && c.runs > 0)
    .map((c) => {
      const throughputRatio = c.window.throughputPerSecond / base.window.throughputPerSecond;
      const p99DeltaMs = c.window.latencyMs.p99 - base.window.latencyMs.p99;
      const byRound: Comparison["byRound"] = [];
      for (let round = 1; round <= config.rounds; round++) {
        const mine = runs.find((r) => r.key === c.key && r.round === round);
        const theirs = runs.find((r) => r.key === "nn" && r.round === round);
        if (mine && theirs)
          byRound.push({
            round,
            throughputRatio: mine.window.throughputPerSecond / theirs.window.throughputPerSecond,
            p99DeltaMs: mine.window.latencyMs.p99 - theirs.window.latencyMs.p99,
          });
      }
      return {
        key: c.key,
        label: GOAL_NAMES[c.key],
        throughputRatio,
        p99DeltaMs,
        throughputGoalMet: throughputRatio >= GOAL_THROUGHPUT_RATIO,
        p99GoalMet: p99DeltaMs <= GOAL_P99_DELTA_MS,
        relaysCpuRatio: c.relaysCpuPct != null && base.relaysCpuPct ? c.relaysCpuPct / base.relaysCpuPct : null,
        byRound,
      };
    });
}

const signed = (v: number, digits = 2): string => `${v >= 0 ? "+" : ""}${fmt(v, digits)}`;

function summaryRows(combos: ComboResult[]): string[][] {
  const rows = [["CLI → viewer", "sessions", "sent", "recv", "lost", "dup", "ooo", "ev/s", "offered", "p50 ms", "p95 ms", "p99 ms", "max ms", "bench lag p99", "bench CPU", "relays CPU", "redis CPU", "machine CPU", "other CPU"]];
  for (const c of combos) {
    if (c.runs === 0) {
      rows.push([c.label, "failed", (c.error ?? "").slice(0, 60)]);
      continue;
    }
    const l = c.window.latencyMs;
    rows.push([
      c.label,
      String(c.sessions),
      String(c.sent),
      String(c.received),
      String(c.lost),
      String(c.duplicated),
      String(c.outOfOrder),
      fmt(c.window.throughputPerSecond, 0),
      fmt(c.offeredPerSecond, 0),
      fmt(l.p50, 2),
      fmt(l.p95, 2),
      fmt(l.p99, 2),
      fmt(l.max, 1),
      `${fmt(c.benchLagP99Ms, 1)} ms`,
      pct(c.benchCpuPct),
      pct(c.relaysCpuPct),
      pct(c.redisCpuPct),
      pct(c.machineBusyPct),
      pct(c.otherCpuPct),
    ]);
  }
  return rows;
}

function comparisonRows(comparisons: Comparison[]): string[][] {
  const rows = [["vs native → native", "throughput ratio", `≥ ${GOAL_THROUGHPUT_RATIO}`, "p99 Δ ms", `≤ +${GOAL_P99_DELTA_MS} ms`, "relays CPU ratio", "by round: ratio / p99 Δ"]];
  for (const c of comparisons)
    rows.push([
      c.label,
      fmt(c.throughputRatio, 3),
      c.throughputGoalMet ? "MET" : "NOT MET",
      signed(c.p99DeltaMs),
      c.p99GoalMet ? "MET" : "NOT MET",
      c.relaysCpuRatio == null ? "–" : fmt(c.relaysCpuRatio, 2),
      c.byRound.map((r) => `${fmt(r.throughputRatio, 3)} / ${signed(r.p99DeltaMs, 1)}`).join(", "),
    ]);
  return rows;
}

function runRows(runs: Run[]): string[][] {
  const procLabels = Object.keys(runs.find((r) => r.cpu)?.cpu?.procPct ?? {});
  const rows = [["run", "round", "ev/s", "p50 ms", "p99 ms", "max ms", "lost", "bench lag p99", "bench CPU", ...procLabels.map((l) => `${l} CPU`), "machine", "other", "tries", "relay A RSS MiB"]];
  for (const r of [...runs].sort((x, y) => x.position - y.position)) {
    const l = r.window.latencyMs;
    rows.push([
      `${r.position + 1}. ${r.label}`,
      String(r.round),
      fmt(r.window.throughputPerSecond, 0),
      fmt(l.p50, 2),
      fmt(l.p99, 2),
      fmt(l.max, 1),
      String(r.lost),
      `${fmt(r.client.lagMs.p99, 1)} ms`,
      pct(r.client.cpuPct),
      ...procLabels.map((p) => pct(r.cpu?.procPct[p])),
      pct(r.cpu?.machineBusyPct),
      pct(r.otherCpuPct),
      String(r.attempts),
      fmt(r.rssMiB["relay A"] ?? NaN, 0),
    ]);
  }
  return rows;
}

function warningsFor(runs: Run[]): string[] {
  const warnings: string[] = [];
  for (const r of [...runs].sort((x, y) => x.position - y.position)) {
    const tag = `run ${r.position + 1} (${r.label}, round ${r.round})`;
    if (r.client.lagMs.p99 > CLIENT_LAG_P99_MS)
      warnings.push(`${tag}: the bench's own event-loop lag p99 is ${fmt(r.client.lagMs.p99)} ms (> ${CLIENT_LAG_P99_MS} ms): its latencies include client-side delay.`);
    if (r.client.cpuPct != null && r.client.cpuPct > CLIENT_CPU_PCT) warnings.push(`${tag}: the bench process used ${pct(r.client.cpuPct)} of a core: the client may be the bottleneck.`);
    if (r.cpu?.machineBusyPct != null && r.cpu.machineBusyPct > MACHINE_BUSY_PCT)
      warnings.push(`${tag}: the machine was ${pct(r.cpu.machineBusyPct)} busy (all cores): saturated; tail latencies measure CPU queueing as much as the relay.`);
    if (r.otherCpuPct != null && r.otherCpuPct > OTHER_CPU_PCT)
      warnings.push(
        `${tag}: processes outside this run used ${pct(r.otherCpuPct)} of a core during the window (${r.otherTop.map((o) => `${o.comm}[${o.pid}] ${pct(o.pct)}`).join(", ") || "short-lived ones"}): disturbed by other work on the machine.`,
      );
    if (r.lost || r.duplicated || r.outOfOrder || r.malformed) warnings.push(`${tag}: lost ${r.lost}, duplicated ${r.duplicated}, out of order ${r.outOfOrder}, malformed ${r.malformed}.`);
    if (!r.drained) warnings.push(`${tag}: not drained within ${config.drain} s after publishing stopped.`);
    if (r.setupFailures) warnings.push(`${tag}: ${r.setupFailures} session(s) failed to set up.`);
    const incidents = r.incidents.cliErrors + r.incidents.viewerErrors + r.incidents.unexpectedCloses;
    if (incidents)
      warnings.push(`${tag}: ${r.incidents.cliErrors} CLI errors, ${r.incidents.viewerErrors} viewer errors, ${r.incidents.unexpectedCloses} unexpected closes (e.g. ${r.incidents.samples.slice(0, 3).join("; ")}).`);
    if (r.relayLogLines) warnings.push(`${tag}: the relays logged ${r.relayLogLines} warn/error line(s) (see the JSON).`);
  }
  return warnings;
}

/** How much native → native's own p99 moved between its runs: the resolution of a p99 Δ in this run. */
function noiseFloor(runs: Run[]): { baselineP99ByRun: number[]; spreadMs: number | null } {
  const baselineP99ByRun = runs.filter((r) => r.key === "nn").map((r) => r.window.latencyMs.p99);
  return { baselineP99ByRun, spreadMs: baselineP99ByRun.length > 1 ? Math.max(...baselineP99ByRun) - Math.min(...baselineP99ByRun) : null };
}

function report(combos: ComboResult[], runs: Run[], comparisons: Comparison[]): string {
  const lines: string[] = [];
  lines.push(`Per combination (${config.rounds} run(s) of ${fmt(RUN_SECONDS)} s each, pooled):`);
  lines.push(table(summaryRows(combos)));
  lines.push("sent/recv/lost/dup/ooo: whole runs incl. warm-up; ev/s and latencies: measured windows only.");
  lines.push("bench lag: the bench's own event-loop delay (worst run); CPU: % of one core, machine: % of all cores, other: processes outside this run.");
  lines.push("");
  lines.push("Runs in the order they ran:");
  lines.push(table(runRows(runs)));
  lines.push("");
  if (comparisons.length === 0) lines.push("No native → native baseline in this run: no ratios.");
  else {
    lines.push(table(comparisonRows(comparisons)));
    lines.push("");
    const noise = noiseFloor(runs);
    for (const c of comparisons)
      lines.push(
        `${c.label}: throughput ${c.throughputGoalMet ? "MET" : "NOT MET"} (${fmt(c.throughputRatio, 3)} of native, goal ≥ ${GOAL_THROUGHPUT_RATIO}); ` +
          `p99 ${c.p99GoalMet ? "MET" : "NOT MET"} (${signed(c.p99DeltaMs)} ms, goal ≤ +${GOAL_P99_DELTA_MS} ms` +
          (noise.spreadMs != null && Math.abs(c.p99DeltaMs) <= noise.spreadMs ? `; within the baseline's own run-to-run spread` : "") +
          ").",
      );
    if (noise.spreadMs != null)
      lines.push(
        `Noise floor: native → native's own p99 was ${noise.baselineP99ByRun.map((v) => fmt(v, 1)).join(" / ")} ms in its runs (spread ${fmt(noise.spreadMs, 1)} ms); ` +
          `a p99 Δ within that spread is not resolved by this run${noise.spreadMs > GOAL_P99_DELTA_MS ? `, and the ${GOAL_P99_DELTA_MS} ms goal is below it` : ""}.`,
      );
  }
  const warnings = warningsFor(runs);
  for (const c of combos) if (c.error) warnings.push(`${c.label}: ${c.error}`);
  lines.push("");
  if (warnings.length === 0) lines.push("No warnings: no losses, bench lag and CPU within bounds, machine not saturated, no other work.");
  else for (const w of warnings) lines.push(`WARNING ${w}`);
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------------------
// Main

async function main(): Promise<number> {
  const wallStart = performance.now();
  const machine = {
    nproc: NPROC,
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    totalMemGiB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
  };
  console.log(
    `bridge bench: ${config.sessions} sessions × ${config.rate} ev/s per run; ${config.seconds} s measured per combination ` +
      `(${config.rounds} round(s) of ${fmt(RUN_SECONDS)} s, each after ${config.warmup} s warm-up); order ${combinations.map((c) => c.key).join(",")}${config.rounds > 1 ? " then reversed" : ""}`,
  );
  console.log(`machine: ${machine.nproc} cores (${machine.cpuModel}), ${machine.totalMemGiB} GiB, Node ${machine.node}`);

  let redis: TestRedis | null = null;
  const nodes: BenchNode[] = [];
  let closeState: (() => Promise<void>) | null = null;
  const killAll = (): void => {
    for (const node of nodes) node.killNow();
  };
  process.once("exit", killAll);
  process.once("SIGINT", () => {
    killAll();
    void (redis?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  });

  const runs: Run[] = [];
  const latencies = new Map<Key, Float64Array[]>();
  const errors = new Map<Key, string[]>();
  try {
    redis = await startRedis();
    const prefix = `bench:${randomHex(6)}:`;
    const env = {
      // Nothing expires or is swept during a run (the defaults are a 10 min TTL, a sweep every 60 s).
      PIZZAPI_EPHEMERAL_TTL_MS: String(24 * 3_600_000),
      PIZZAPI_EPHEMERAL_SWEEP_MS: String(3_600_000),
    };
    const redisUrl = redis.url;
    nodes.push(...(await Promise.all(["A", "B", "C"].map((name) => startBenchNode({ name, redisUrl, prefix, env })))));
    await awaitBenchMesh(nodes);
    const shared = await clusterState(redisUrl, prefix);
    closeState = shared.close;
    const apiKey = (await shared.state.keys.create({ userId: "bench", userName: "Bench" })).key;
    const cookie = await benchLogin((nodes[0] as BenchNode).url, apiKey);
    const pids: Record<string, number> = {};
    for (const node of nodes) pids[`relay ${node.name}`] = node.pid;
    const redisPid = childPids("redis-server")[0];
    if (redisPid) pids.redis = redisPid;
    const ours = new Set([process.pid, process.ppid, parentOf(process.ppid) ?? -1, ...Object.values(pids)]);
    const cluster: Cluster = { nodes, apiKey, cookie, pids, ours };
    console.log(`cluster: ${nodes.map((node) => `${node.name}=${node.url}`).join(" ")}; redis ${redisUrl}`);

    if (config.prime > 0) {
      for (const key of ["nn", "ll"] as const) {
        const combo = ALL.find((c) => c.key === key) as Combination;
        console.log(`\npriming: ${combo.label} (not recorded)`);
        const primed = await runOnce(combo, 0, -1, cluster, config.prime);
        console.log(`    ${runLine(primed.run)}`);
      }
    }

    let position = 0;
    for (let round = 1; round <= config.rounds; round++) {
      const order = round % 2 === 1 ? combinations : [...combinations].reverse();
      for (const combo of order) {
        console.log(`\nrun ${position + 1}: ${combo.label} (round ${round})`);
        try {
          const result = await runSlot(combo, round, position, cluster);
          runs.push(result.run);
          latencies.set(combo.key, [...(latencies.get(combo.key) ?? []), result.latencies]);
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err);
          console.log(`    run failed: ${message}`);
          errors.set(combo.key, [...(errors.get(combo.key) ?? []), message]);
        }
        position++;
      }
    }
  } finally {
    await Promise.all(nodes.map((node) => node.stop()));
    await closeState?.().catch(() => undefined);
    await redis?.stop();
  }

  const combos = combinations.map((c) =>
    aggregate(
      c,
      runs.filter((r) => r.key === c.key),
      latencies.get(c.key) ?? [],
      errors.get(c.key) ?? [],
    ),
  );
  const comparisons = compare(combos, runs);
  const wallSeconds = (performance.now() - wallStart) / 1000;
  console.log(`\n${report(combos, runs, comparisons)}\n\nwall time ${fmt(wallSeconds, 0)} s`);
  if (flags.markdown) {
    console.log(`\n${markdownTable(summaryRows(combos))}\n\n${markdownTable(comparisonRows(comparisons))}\n\n${markdownTable(runRows(runs))}`);
  }

  const relayLogs: Record<string, string[]> = {};
  for (const node of nodes) relayLogs[node.name] = node.logs.slice(0, 50);
  const body = `${JSON.stringify(
    {
      bench: "bridge",
      command: `npx tsx bench/bridge.ts ${process.argv.slice(2).join(" ")}`.trim(),
      finishedAt: new Date().toISOString(),
      wallSeconds,
      machine,
      config: { ...config, runSeconds: RUN_SECONDS, order: combinations.map((c) => c.key), adapter: "redis-streams" },
      goals: { throughputRatioAtLeast: GOAL_THROUGHPUT_RATIO, p99DeltaMsAtMost: GOAL_P99_DELTA_MS },
      combinations: combos,
      comparisons,
      noise: noiseFloor(runs),
      runs,
      warnings: warningsFor(runs),
      relayLogs,
    },
    null,
    2,
  )}\n`;
  mkdirSync(OUT_DIR, { recursive: true });
  const file = join(OUT_DIR, `bridge-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, body);
  writeFileSync(join(OUT_DIR, "latest.json"), body);
  console.log(`\nresults: ${file} (and latest.json)`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error("bridge bench could not run:", err);
    process.exit(1);
  },
);
