/**
 * The relay's cost per event against a bare Socket.IO server doing only the fan-out (issue 13; results
 * and how to read them: bench/README.md "throughput.ts"). Every figure is a measurement of this run:
 * the reference runs in the same process tree, interleaved with the relay, so ratios compare like with
 * like on whatever machine runs it. Exits 0 whatever the figures; 1 if a server cannot be set up, 2 for
 * a bad flag.
 */
import { execFileSync, fork, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { startRedis, type TestRedis } from "../test/helpers/redis.js";
import type { Command, PopulationSpec, Reply } from "./lib/population.js";
import { awaitBenchMesh, benchLogin, keepServerLogs, relayNodeFlags, startBareServer, startBenchNode, type BenchNode, type ProbeReading } from "./lib/cluster.js";
import { childPids, pinProcess } from "./lib/cpu.js";
import { fmt, latencyStats, markdownTable, type LatencyStats } from "./lib/stats.js";

const USAGE = `npx tsx bench/throughput.ts [options]     (npm run bench:throughput -- [options])

  --nodes N        1: one embedded relay per stack (default); 3: three relays over Redis (redis-streams)
  --sessions N     sessions per population, one CLI and one viewer each (default 1000)
  --rates LIST     total events/s, comma-separated (default 1000,2000,3000,4000,6000; 3 nodes: 1000,2000,3000,4000)
  --seconds S      measured window of one run (default 8)
  --warmup S       unmeasured publishing before each window (default 2)
  --variants LIST  which populations (1 node: sio,legacy,bare; 3 nodes: nn,nl,ln,ll,bare)
  --idle N         idle viewers per kind for the memory figures, 0 to skip (default 3000)
  --idle-cpu S     seconds over which every server's CPU is read with all populations connected and
                   nothing published, before the runs: what a population's servers cost while another
                   population runs (default 10, 0 to skip)
  --event-bytes N  JSON size of one event (default 512)
  --relay-env K=V  an extra setting for every relay (repeatable), e.g. PIZZAPI_RECOVERY_WINDOW_MS=0
  --relay-node-arg A  an extra argument of every relay's node binary (repeatable), e.g. --max-semi-space-size=32
                   (with --heap-prof or --cpu-prof, the servers stop gracefully at the end, so V8 writes it)
  --baseline DIR   also run the relay of DIR, another checkout, built (e.g. a git worktree of an earlier
                   revision after \`npm ci\`), as variants <key>@base, interleaved with the others: a change
                   measured before and after in the same run (one node only)
  --pin            Linux: the server under test on CPU 0, this process, the client processes and the
                   other servers on the other CPUs (taskset), so that load generators and the server
                   under test do not queue behind each other on one core; with 3 nodes, the relays and
                   Redis share CPU 0
  --server-logs DIR  also write each server's output to DIR/<name>.log (with --relay-node-arg=--trace-gc:
                   every collection of every relay)
  --cpu-prof DIR   write a V8 CPU profile of every server (relays and bare) into DIR (servers stop gracefully at the end)
  --out FILE       where to write the JSON results (default bench/results/throughput-<nodes>n.json),
                   and the Markdown report next to it (.md)
  --help`;

const { values: flags } = parseArgs({
  options: {
    nodes: { type: "string", default: "1" },
    sessions: { type: "string", default: "1000" },
    rates: { type: "string" },
    seconds: { type: "string", default: "8" },
    warmup: { type: "string", default: "2" },
    variants: { type: "string" },
    idle: { type: "string", default: "3000" },
    "idle-cpu": { type: "string", default: "10" },
    "event-bytes": { type: "string", default: "512" },
    "relay-env": { type: "string", multiple: true },
    out: { type: "string" },
    "cpu-prof": { type: "string" },
    baseline: { type: "string" },
    "relay-node-arg": { type: "string", multiple: true },
    pin: { type: "boolean", default: false },
    "server-logs": { type: "string" },
    help: { type: "boolean", default: false },
  },
});
if (flags.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

function positive(name: string, raw: string, integer = true): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) {
    process.stderr.write(`--${name}: not a valid number: ${raw}\n${USAGE}\n`);
    process.exit(2);
  }
  return n;
}

const NODES = positive("nodes", flags.nodes);
if (NODES !== 1 && NODES !== 3) {
  process.stderr.write(`--nodes: 1 or 3\n`);
  process.exit(2);
}
const CLUSTER = NODES === 3;
const SESSIONS = positive("sessions", flags.sessions);
const RATES = (flags.rates ?? (CLUSTER ? "1000,2000,3000,4000" : "1000,2000,3000,4000,6000")).split(",").map((r) => positive("rates", r.trim()));
const WINDOW_S = positive("seconds", flags.seconds, false);
const WARMUP_S = positive("warmup", flags.warmup, false);
const IDLE = positive("idle", flags.idle);
const IDLE_CPU_S = positive("idle-cpu", flags["idle-cpu"], false);
const EVENT_BYTES = positive("event-bytes", flags["event-bytes"]);
const RELAY_ENV: Record<string, string> = {};
for (const kv of flags["relay-env"] ?? []) {
  const at = kv.indexOf("=");
  if (at < 1) {
    process.stderr.write(`--relay-env: KEY=VALUE expected, got ${kv}\n`);
    process.exit(2);
  }
  RELAY_ENV[kv.slice(0, at)] = kv.slice(at + 1);
}

interface VariantSpec extends PopulationSpec {
  label: string;
  /** The checkout whose relay this variant runs (`--baseline`); default: this one. */
  root?: string;
}
const ALL_VARIANTS: VariantSpec[] = CLUSTER
  ? [
      { key: "nn", label: "relay, Socket.IO → Socket.IO", cli: "native", viewer: "native", bare: false },
      { key: "nl", label: "relay, Socket.IO → legacy", cli: "native", viewer: "legacy", bare: false },
      { key: "ln", label: "relay, legacy → Socket.IO", cli: "legacy", viewer: "native", bare: false },
      { key: "ll", label: "relay, legacy → legacy", cli: "legacy", viewer: "legacy", bare: false },
      { key: "bare", label: "bare Socket.IO", cli: "native", viewer: "native", bare: true },
    ]
  : [
      { key: "sio", label: "relay, Socket.IO clients", cli: "native", viewer: "native", bare: false },
      { key: "legacy", label: "relay, legacy clients", cli: "legacy", viewer: "legacy", bare: false },
      { key: "bare", label: "bare Socket.IO", cli: "native", viewer: "native", bare: true },
    ];
const wantedVariants = flags.variants?.split(",").map((v) => v.trim());
const BASELINE = flags.baseline === undefined ? undefined : resolve(flags.baseline);
if (BASELINE !== undefined && CLUSTER) {
  process.stderr.write(`--baseline: one node only\n`);
  process.exit(2);
}
const CHOSEN = wantedVariants ? ALL_VARIANTS.filter((v) => wantedVariants.includes(v.key)) : ALL_VARIANTS;
/** With --baseline, each relay variant twice: this checkout's relay, then the baseline's (`<key>@base`). */
const VARIANTS = CHOSEN.flatMap((v): VariantSpec[] => (BASELINE === undefined || v.bare ? [v] : [v, { ...v, key: `${v.key}@base`, label: `${v.label} (baseline)`, root: BASELINE }]));
if (VARIANTS.length === 0) {
  process.stderr.write(`--variants: none of ${ALL_VARIANTS.map((v) => v.key).join(",")}\n`);
  process.exit(2);
}

const ROOT = resolve(import.meta.dirname, "..");
if (flags["server-logs"] !== undefined) {
  mkdirSync(resolve(flags["server-logs"]), { recursive: true });
  keepServerLogs(resolve(flags["server-logs"]));
}
/** `--pin`: the CPU lists of the servers and of the load generators (this process and its clients). */
const PIN = flags.pin ? pinLists() : null;
function pinLists(): { servers: string; clients: string } {
  const cpus = os.availableParallelism();
  if (process.platform !== "linux" || cpus < 2) {
    process.stderr.write(`--pin: Linux with at least 2 CPUs only\n`);
    process.exit(2);
  }
  return { servers: "0", clients: cpus === 2 ? "1" : `1-${cpus - 1}` };
}
function pin(pid: number | undefined, cpus: string | undefined): void {
  if (pid === undefined || cpus === undefined) return;
  if (!pinProcess(pid, cpus)) {
    process.stderr.write(`--pin: taskset could not pin pid ${pid} to CPU ${cpus}\n`);
    process.exit(1);
  }
}
pin(PIN ? process.pid : undefined, PIN?.clients);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const processes: BenchNode[] = [];
/** The client processes, one per population. */
const clients: ChildProcess[] = [];
let redis: TestRedis | null = null;
process.on("exit", () => {
  for (const p of processes) p.killNow();
  for (const c of clients) c.kill("SIGKILL");
});

// ---------------------------------------------------------------------------------------------------
// Servers

/** The servers one population talks to (three relays in a cluster, one server otherwise). */
interface Target {
  servers: BenchNode[];
  apiKey: string;
  cookie: string;
}

function mintKey(dataDir: string, user: string): string {
  const out = execFileSync(process.execPath, [join(ROOT, "bin/pizzapi-relay.js"), "keys", "create", "--user", user, "--json"], {
    env: { PATH: process.env.PATH ?? "", PIZZAPI_DATA_DIR: dataDir, ...(redis ? { PIZZAPI_REDIS_URL: redis.url, PIZZAPI_REDIS_PREFIX: "bench:" } : {}) },
    encoding: "utf8",
  });
  return (JSON.parse(out) as { key: string }).key;
}

const relayEnv = (dataDir: string): Record<string, string> => ({
  PIZZAPI_DATA_DIR: dataDir,
  // A bench session lives as long as the bench; each population is a user of its own.
  PIZZAPI_EPHEMERAL_TTL_MS: String(24 * 3_600_000),
  PIZZAPI_EPHEMERAL_SWEEP_MS: String(3_600_000),
  PIZZAPI_MAX_SESSIONS_PER_USER: String(10 * SESSIONS + IDLE + 100),
  ...RELAY_ENV,
});

const profileArgs = flags["cpu-prof"] ? ["--cpu-prof", "--cpu-prof-dir", resolve(flags["cpu-prof"])] : [];
const relayNodeArgs = [...(flags["relay-node-arg"] ?? []), ...profileArgs];
/** V8 writes a CPU or heap profile (`--cpu-prof`, `--heap-prof`) only when the process exits by itself. */
const writesProfile = relayNodeArgs.some((arg) => /^--(cpu|heap)-prof/.test(arg));

/** Relay processes (three in a cluster) and the data folder their keys are minted in. */
interface Relays {
  servers: BenchNode[];
  dataDir: string;
}

async function startRelays(name: string, root?: string): Promise<Relays> {
  const dataDir = mkdtempSync(join(os.tmpdir(), "pizzapi-throughput-"));
  const names = CLUSTER ? ["A", "B", "C"].map((n) => `${name}-${n}`) : [name];
  const servers = await Promise.all(names.map((n) => startBenchNode({ name: n, prefix: "bench:", probe: true, env: relayEnv(dataDir), nodeArgs: relayNodeArgs, ...(redis ? { redisUrl: redis.url } : {}), ...(root !== undefined ? { root } : {}) })));
  processes.push(...servers);
  if (CLUSTER) for (const s of servers) pin(PIN ? s.pid : undefined, PIN?.servers);
  if (CLUSTER) await awaitBenchMesh(servers);
  return { servers, dataDir };
}

/**
 * A population's user on its relays: its API key and login cookie. Each population has a user of its
 * own, so that a registration's per-user session cap check (it counts the user's live sessions, up to a
 * cap the bench raises far above them) stays at one population's size when populations share the
 * relays (a cluster).
 */
async function userOn(relays: Relays, name: string): Promise<Target> {
  const apiKey = mintKey(relays.dataDir, `bench-${name}`);
  return { servers: relays.servers, apiKey, cookie: await benchLogin(relays.servers[0]?.url ?? "", apiKey) };
}

async function startBare(name: string): Promise<Target> {
  const names = CLUSTER ? ["A", "B", "C"].map((n) => `${name}-${n}`) : [name];
  const servers = await Promise.all(names.map((n) => startBareServer(n, redis?.url, "bench:", profileArgs)));
  processes.push(...servers);
  if (CLUSTER) for (const s of servers) pin(PIN ? s.pid : undefined, PIN?.servers);
  return { servers, apiKey: "", cookie: "" };
}

// ---------------------------------------------------------------------------------------------------
// Populations: SESSIONS sessions, one CLI and one viewer each; the CLIs in one process, the viewers in another

/** One side of a population (bench/lib/population.ts): a client process, driven over IPC. */
class Side {
  private readonly proc: ChildProcess;
  private readonly waiting: Array<(reply: Reply) => void> = [];
  /** Called when the CLI side opens and closes a measured window (the servers are probed then). */
  onWindow: ((edge: "open" | "close") => void) | null = null;

  constructor(private readonly name: string) {
    this.proc = fork(join(ROOT, "bench/lib/population.ts"), [], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    this.proc.on("message", (reply: Reply) => {
      if (reply.op === "window-open" || reply.op === "window-close") return this.onWindow?.(reply.op === "window-open" ? "open" : "close");
      this.waiting.shift()?.(reply);
    });
    clients.push(this.proc);
    pin(PIN ? this.proc.pid : undefined, PIN?.clients);
  }

  ask<Op extends Reply["op"]>(cmd: Command, op: Op): Promise<Extract<Reply, { op: Op }>> {
    return new Promise((answered, failed) => {
      this.waiting.push((reply) => {
        if (reply.op === "failed") failed(new Error(`${this.name}: ${reply.error}`));
        else if (reply.op !== op) failed(new Error(`${this.name}: ${reply.op} where ${op} was expected`));
        else answered(reply as Extract<Reply, { op: Op }>);
      });
      this.proc.send(cmd);
    });
  }

  close(): void {
    if (this.proc.connected) this.proc.send({ op: "close" } satisfies Command);
  }
}

/** A population: its CLIs in one process, its viewers in another. */
class Population {
  readonly clis: Side;
  readonly viewers: Side;

  constructor(
    readonly spec: VariantSpec,
    readonly target: Target,
  ) {
    this.clis = new Side(`${spec.key} CLIs`);
    this.viewers = new Side(`${spec.key} viewers`);
  }

  async open(): Promise<number> {
    const urls = this.target.servers.map((s) => s.url);
    const c = await this.clis.ask({ op: "open-clis", spec: this.spec, urls, apiKey: this.target.apiKey, sessions: SESSIONS, eventBytes: EVENT_BYTES }, "opened");
    const v = await this.viewers.ask({ op: "open-viewers", spec: this.spec, urls, cookie: this.target.cookie, sessionIds: c.sessionIds }, "opened");
    return c.seconds + v.seconds;
  }

  async idle(count: number, url: string): Promise<void> {
    await this.viewers.ask({ op: "idle-open", count, url }, "idle-opened");
  }

  async closeIdle(): Promise<void> {
    await this.viewers.ask({ op: "idle-close" }, "idle-closed");
  }

  close(): void {
    this.clis.close();
    this.viewers.close();
  }
}

// ---------------------------------------------------------------------------------------------------
// One run: the client process publishes and measures; here, the servers are probed over its window

interface ServerFigures {
  /** Worst server's event-loop delay p99 and longest GC pause in the window. */
  loopP99Ms: number;
  /** Worst server's longest event-loop stall in the window: a pause too rare to show in a p99. */
  loopMaxMs: number;
  gcMaxPauseMs: number;
  cpuMsPer1k: number;
  heapMiB: number;
  rssMiB: number;
  minorGcPer1k: number;
  gcMsPer1k: number;
  /** Write system calls per 1,000 events: about one per packet a socket sends. */
  writesPer1k: number;
}

interface Run {
  variant: string;
  rate: number;
  order: number;
  sentInWindow: number;
  delivered: number;
  lost: number;
  /** Received more than 5 s after the window (bench/lib/population.ts `drain`). */
  late: number;
  duplicated: number;
  outOfOrder: number;
  latency: LatencyStats;
  /** Send to the server's broadcast (native viewers only): the rest of the latency is the way out. */
  inbound: LatencyStats;
  server: ServerFigures;
  bench: { lagP99Ms: number; cpuPct: number; gcMaxMs: number };
  incidents: number;
}

/** A server's CPU time (user and system) between two of its readings, in ms. */
function cpuMsBetween(a: ProbeReading, b: ProbeReading): number {
  return (b.cpuMicros.user + b.cpuMicros.system - a.cpuMicros.user - a.cpuMicros.system) / 1000;
}

function serverFigures(before: ProbeReading[], after: ProbeReading[], heapSamples: number[], events: number): ServerFigures {
  let cpu = 0;
  let minor = 0;
  let gcMs = 0;
  let rss = 0;
  let writes = 0;
  for (let i = 0; i < after.length; i++) {
    const a = before[i];
    const b = after[i];
    if (!a || !b) continue;
    cpu += cpuMsBetween(a, b);
    minor += b.gc.minor - a.gc.minor;
    gcMs += b.gc.ms - a.gc.ms;
    writes += b.syscalls.writes - a.syscalls.writes;
    rss += b.rss;
  }
  const k = Math.max(events, 1) / 1000;
  const heap = heapSamples.length ? heapSamples.reduce((x, y) => x + y, 0) / heapSamples.length : after.reduce((x, y) => x + y.heapUsed, 0);
  return {
    loopP99Ms: Math.max(...after.map((r) => r.loop.p99Ms)),
    loopMaxMs: Math.max(...after.map((r) => r.loop.maxMs)),
    gcMaxPauseMs: Math.max(...after.map((r) => r.gc.maxPauseMs)),
    cpuMsPer1k: cpu / k,
    heapMiB: heap / 2 ** 20,
    rssMiB: rss / 2 ** 20,
    minorGcPer1k: minor / k,
    gcMsPer1k: gcMs / k,
    writesPer1k: writes / k,
  };
}

/**
 * `--pin`, one node: the server of the population about to run gets CPU 0 to itself; the others wait on
 * the load generators' CPUs. Idle relays still have work of their own (a thousand connections each, their
 * collections), which on one shared CPU showed in the running server's stalls.
 */
function pinForRun(active: BenchNode[]): void {
  if (!PIN || CLUSTER) return;
  for (const p of processes) pin(p.pid, active.includes(p) ? PIN.servers : PIN.clients);
}

async function runOnce(pop: Population, rate: number, order: number): Promise<{ run: Run; latencies: number[] }> {
  const servers = pop.target.servers;
  pinForRun(servers);
  let before: ProbeReading[] = [];
  let after: ProbeReading[] = [];
  const heapSamples: number[] = [];
  let sampler: NodeJS.Timeout | undefined;
  let closed: Promise<void> = Promise.resolve();
  const onWindow = (edge: "open" | "close"): void => {
    if (edge === "open") {
      void Promise.all(servers.map((s) => s.probe({ reset: true }))).then((r) => (before = r));
      sampler = setInterval(() => void Promise.all(servers.map((s) => s.probe())).then((r) => heapSamples.push(r.reduce((x, y) => x + y.heapUsed, 0))), 1000);
    } else {
      clearInterval(sampler);
      closed = Promise.all(servers.map((s) => s.probe())).then((r) => void (after = r));
    }
  };
  await pop.viewers.ask({ op: "listen" }, "listening");
  pop.clis.onWindow = onWindow;
  const published = await pop.clis.ask({ op: "run", rate, warmupS: WARMUP_S, windowS: WINDOW_S }, "published");
  await closed;
  pop.clis.onWindow = null;
  const { run: p } = published;
  const received = await pop.viewers.ask({ op: "drain", sent: p.sent, windowStart: p.windowStart, windowEnd: p.windowEnd }, "received");
  const r = received.run;
  const run: Run = {
    variant: pop.spec.key,
    rate,
    order,
    sentInWindow: p.sentInWindow,
    delivered: r.delivered,
    lost: r.lost,
    late: r.late,
    duplicated: r.duplicated,
    outOfOrder: r.outOfOrder,
    latency: latencyStats(Float64Array.from(r.latencies)),
    inbound: latencyStats(Float64Array.from(r.inbound)),
    server: serverFigures(before, after, heapSamples, r.latencies.length),
    // The worse of the two client processes, and their CPU together.
    bench: {
      lagP99Ms: Math.max(p.load.lagP99Ms, r.load.lagP99Ms),
      cpuPct: p.load.cpuPct + r.load.cpuPct,
      gcMaxMs: Math.max(p.load.gcMaxMs, r.load.gcMaxMs),
    },
    incidents: published.incidents + received.incidents,
  };
  const samples = [...published.samples, ...received.samples];
  if (samples.length > 0 && order === 0) process.stdout.write(`incidents (${pop.spec.key}): ${samples.join("; ")}\n`);
  return { run, latencies: r.latencies };
}

// ---------------------------------------------------------------------------------------------------
// Idle memory per connection

interface IdleFigures {
  variant: string;
  connections: number;
  heapKiBPerConnection: number;
  rssKiBPerConnection: number;
}

async function idleMemory(pop: Population): Promise<IdleFigures> {
  const server = pop.target.servers[0];
  if (!server) throw new Error("no server");
  const before = await server.probe({ gc: true });
  await pop.idle(IDLE, server.url);
  await sleep(1_000);
  const after = await server.probe({ gc: true });
  await pop.closeIdle();
  await sleep(1_000);
  return {
    variant: pop.spec.key,
    connections: IDLE,
    heapKiBPerConnection: (after.heapUsed - before.heapUsed) / 1024 / IDLE,
    rssKiBPerConnection: (after.rss - before.rss) / 1024 / IDLE,
  };
}

// ---------------------------------------------------------------------------------------------------
// Idle CPU: every population connected, nothing published (in a run, the other populations' servers
// are in this state on the same cores)

async function idleCpuOf(seconds: number): Promise<Array<{ server: string; msPerSecond: number }>> {
  // Read before the idle-memory viewers come and go (their disconnects would count), once the
  // populations' own connects have settled.
  await sleep(2_000);
  const before = await Promise.all(processes.map((s) => s.probe({ reset: true })));
  await sleep(seconds * 1000);
  const after = await Promise.all(processes.map((s) => s.probe()));
  return processes.map((s, i) => {
    const a = before[i];
    const b = after[i];
    return { server: s.name, msPerSecond: a && b ? cpuMsBetween(a, b) / seconds : Number.NaN };
  });
}

// ---------------------------------------------------------------------------------------------------
// Report

const range = (xs: number[], digits = 1): string => {
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  return fmt(lo, digits) === fmt(hi, digits) ? fmt(lo, digits) : `${fmt(lo, digits)}–${fmt(hi, digits)}`;
};
const meanOf = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);

interface Cell {
  variant: string;
  rate: number;
  runs: Run[];
  lost: number;
  late: number;
  p99Pooled: number;
  cpuMsPer1k: number;
}

function cellsOf(runs: Run[], pooled: Map<string, number[]>): Cell[] {
  const cells: Cell[] = [];
  for (const rate of RATES) {
    for (const v of VARIANTS) {
      const rs = runs.filter((r) => r.rate === rate && r.variant === v.key);
      if (rs.length === 0) continue;
      const all = Float64Array.from(pooled.get(`${v.key}@${rate}`) ?? []);
      cells.push({
        variant: v.key,
        rate,
        runs: rs,
        lost: rs.reduce((a, r) => a + r.lost, 0),
        late: rs.reduce((a, r) => a + r.late, 0),
        p99Pooled: latencyStats(all).p99,
        cpuMsPer1k: meanOf(rs.map((r) => r.server.cpuMsPer1k)),
      });
    }
  }
  return cells;
}

function resultTable(cells: Cell[]): string {
  const rows = [["rate ev/s", "variant", "delivered/s", "lost", "late", "p50 ms", "p99 ms", "max ms", "CPU ms/1k ev", "heap MiB", "minor GC/1k ev", "GC ms/1k ev", "writes/1k ev", "server stall max ms", "bench lag p99"]];
  for (const c of cells) {
    rows.push([
      String(c.rate),
      c.variant,
      range(c.runs.map((r) => r.delivered / (WARMUP_S + WINDOW_S)), 0),
      String(c.lost),
      String(c.late),
      range(c.runs.map((r) => r.latency.p50)),
      range(c.runs.map((r) => r.latency.p99)),
      range(c.runs.map((r) => r.latency.max)),
      range(c.runs.map((r) => r.server.cpuMsPer1k)),
      range(c.runs.map((r) => r.server.heapMiB), 0),
      range(c.runs.map((r) => r.server.minorGcPer1k), 2),
      range(c.runs.map((r) => r.server.gcMsPer1k), 2),
      range(c.runs.map((r) => r.server.writesPer1k), 0),
      range(c.runs.map((r) => r.server.loopMaxMs)),
      range(c.runs.map((r) => r.bench.lagP99Ms)),
    ]);
  }
  return markdownTable(rows);
}

function ratioTable(cells: Cell[]): string {
  const based = VARIANTS.filter((v) => v.root !== undefined);
  const rows = [["rate ev/s", ...VARIANTS.filter((v) => !v.bare).map((v) => `${v.key} CPU ÷ bare`), ...(CLUSTER ? [] : ["legacy ÷ sio"]), ...based.map((v) => `${v.key.replace("@base", "")} CPU ÷ baseline`)]];
  for (const rate of RATES) {
    const at = (key: string): Cell | undefined => cells.find((c) => c.rate === rate && c.variant === key);
    const bare = at("bare");
    const row = [String(rate)];
    for (const v of VARIANTS.filter((x) => !x.bare)) row.push(bare ? fmt((at(v.key)?.cpuMsPer1k ?? NaN) / bare.cpuMsPer1k, 2) : "–");
    if (!CLUSTER) row.push(fmt((at("legacy")?.cpuMsPer1k ?? NaN) / (at("sio")?.cpuMsPer1k ?? NaN), 2));
    for (const v of based) row.push(fmt((at(v.key.replace("@base", ""))?.cpuMsPer1k ?? NaN) / (at(v.key)?.cpuMsPer1k ?? NaN), 2));
    rows.push(row);
  }
  return markdownTable(rows);
}

function verdicts(cells: Cell[]): string[] {
  const lines: string[] = [];
  const at = (key: string, rate: number): Cell | undefined => cells.find((c) => c.rate === rate && c.variant === key);
  const verdict = (ok: boolean): string => (ok ? "MET" : "NOT MET");
  if (!CLUSTER) {
    const top = 6000;
    for (const key of ["sio", "legacy"]) {
      const c = at(key, top);
      if (c) lines.push(`${key} at ${top} ev/s: p99 ${fmt(c.p99Pooled)} ms, lost ${c.lost} (goal ≤ 25 ms, 0 lost): ${verdict(c.p99Pooled <= 25 && c.lost === 0)}`);
    }
    const sio = at("sio", top);
    const legacy = at("legacy", top);
    const bare = at("bare", top);
    if (sio && bare) lines.push(`CPU per event, sio ÷ bare at ${top}: ${fmt(sio.cpuMsPer1k / bare.cpuMsPer1k, 2)} (goal ≤ 1.5): ${verdict(sio.cpuMsPer1k / bare.cpuMsPer1k <= 1.5)}`);
    if (sio && legacy)
      lines.push(`CPU per event, legacy ÷ sio at ${top}: ${fmt(legacy.cpuMsPer1k / sio.cpuMsPer1k, 2)} (goal ≤ 1.2): ${verdict(legacy.cpuMsPer1k / sio.cpuMsPer1k <= 1.2)}`);
  } else {
    for (const v of VARIANTS) {
      const c = at(v.key, 2000);
      if (c && !v.bare) lines.push(`${v.key} at 2000 ev/s: p99 ${fmt(c.p99Pooled)} ms, lost ${c.lost} (goal ≤ 25 ms, 0 lost): ${verdict(c.p99Pooled <= 25 && c.lost === 0)}`);
    }
  }
  for (const v of VARIANTS) {
    const ok = RATES.filter((r) => {
      const c = at(v.key, r);
      return c !== undefined && c.p99Pooled <= 25 && c.lost === 0;
    });
    // Sustainable: the highest rate such that it and every lower rate met the bar.
    let sustained: number | null = null;
    for (const r of [...RATES].sort((a, b) => a - b)) {
      if (!ok.includes(r)) break;
      sustained = r;
    }
    lines.push(`sustainable rate (p99 ≤ 25 ms, 0 lost), ${v.key}: ${sustained === null ? `below ${Math.min(...RATES)}` : `${sustained} ev/s${sustained === Math.max(...RATES) ? " (the highest rate run)" : ""}`}`);
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const started = Date.now();
  if (CLUSTER) redis = await startRedis();
  if (PIN) for (const pid of childPids("redis-server")) pin(pid, PIN.servers);
  // Servers: a relay (cluster) per relay population in one node mode, one cluster for all in three.
  const targets = new Map<string, Target>();
  const startup: Array<{ server: string; startupMs: number; idleRssMiB: number; idleHeapMiB: number }> = [];
  let shared: Relays | null = null;
  for (const spec of VARIANTS) {
    let target: Target;
    if (spec.bare) target = await startBare(spec.key);
    else target = await userOn(CLUSTER ? (shared ??= await startRelays("relay")) : await startRelays(spec.key, spec.root), spec.key);
    targets.set(spec.key, target);
  }
  for (const s of processes) {
    const r = await s.probe();
    startup.push({ server: s.name, startupMs: s.startupMs, idleRssMiB: r.rss / 2 ** 20, idleHeapMiB: r.heapUsed / 2 ** 20 });
  }
  process.stdout.write(`servers up: ${startup.map((s) => `${s.server} ${fmt(s.startupMs, 0)} ms, ${fmt(s.idleRssMiB, 0)} MiB RSS`).join("; ")}\n`);

  const pops: Population[] = [];
  for (const spec of VARIANTS) {
    const target = targets.get(spec.key);
    if (!target) continue;
    const pop = new Population(spec, target);
    pops.push(pop);
    const seconds = await pop.open();
    process.stdout.write(`population ${spec.key}: ${SESSIONS} sessions in ${fmt(seconds)} s\n`);
  }

  const idleCpu = IDLE_CPU_S > 0 ? await idleCpuOf(IDLE_CPU_S) : [];
  for (const c of idleCpu) process.stdout.write(`idle CPU ${c.server}: ${fmt(c.msPerSecond)} ms/s\n`);

  const idle: IdleFigures[] = [];
  if (IDLE > 0 && !CLUSTER) {
    for (const pop of pops) {
      idle.push(await idleMemory(pop));
      process.stdout.write(`idle ${pop.spec.key}: ${fmt(idle.at(-1)?.heapKiBPerConnection)} KiB heap per viewer\n`);
    }
  }

  const runs: Run[] = [];
  const pooled = new Map<string, number[]>();
  let order = 0;
  for (const rate of RATES) {
    // A B C C B A: a drift in time weighs the same on every variant.
    for (const pop of [...pops, ...[...pops].reverse()]) {
      const { run, latencies } = await runOnce(pop, rate, order++);
      runs.push(run);
      const key = `${pop.spec.key}@${rate}`;
      pooled.set(key, [...(pooled.get(key) ?? []), ...latencies]);
      process.stdout.write(
        `${String(rate).padStart(5)} ev/s ${pop.spec.key.padEnd(6)} p50 ${fmt(run.latency.p50)} p99 ${fmt(run.latency.p99)} max ${fmt(run.latency.max)} ms (in p50 ${fmt(run.inbound.p50)} p99 ${fmt(run.inbound.p99)}), lost ${run.lost}, late ${run.late}, ` +
          `CPU ${fmt(run.server.cpuMsPer1k)} ms/1k ev, writes ${fmt(run.server.writesPer1k, 0)}/1k ev, heap ${fmt(run.server.heapMiB, 0)} MiB, server lag p99 ${fmt(run.server.loopP99Ms)} max ${fmt(run.server.loopMaxMs)} GC max ${fmt(run.server.gcMaxPauseMs)} ms, clients lag p99 ${fmt(run.bench.lagP99Ms)} ms, CPU ${fmt(run.bench.cpuPct, 0)} %, GC max ${fmt(run.bench.gcMaxMs)} ms\n`,
      );
      await sleep(500);
    }
  }
  const cells = cellsOf(runs, pooled);
  const lines = [
    `# throughput: ${NODES} node${NODES > 1 ? "s" : ""}, ${SESSIONS} sessions × 1 viewer per variant, ${EVENT_BYTES} B events, ${WARMUP_S} s warm-up + ${WINDOW_S} s window per run, runs A B C C B A per rate`,
    "",
    `Relays: \`node ${[...relayNodeFlags(), ...relayNodeArgs].join(" ")} bin/pizzapi-relay.js start\` (the bin's own flags)${Object.keys(RELAY_ENV).length ? `, with ${Object.entries(RELAY_ENV).map(([k, v]) => `${k}=${v}`).join(" ")}` : ", default settings"}; bare: \`node\` with no flags.${PIN ? ` Pinned (\`--pin\`): ${CLUSTER ? "the servers and Redis" : "the server of the running population"} on CPU ${PIN.servers}, the bench and its client processes${CLUSTER ? "" : " (and the idle servers)"} on CPU ${PIN.clients}.` : ""}`,
    "",
    resultTable(cells),
    "",
    "Server CPU per event against the bare Socket.IO server (same rate, mean of both runs):",
    "",
    ratioTable(cells),
    "",
  ];
  if (idle.length > 0) {
    lines.push(`Idle memory per viewer connection (${IDLE} viewers opened on one server, after a full GC):`, "");
    lines.push(markdownTable([["variant", "heap KiB / connection", "RSS KiB / connection"], ...idle.map((i) => [i.variant, fmt(i.heapKiBPerConnection), fmt(i.rssKiBPerConnection)])]), "");
  }
  if (idleCpu.length > 0) {
    lines.push(`Idle CPU: each server's CPU over ${IDLE_CPU_S} s with every population connected (${SESSIONS} CLIs and ${SESSIONS} viewers each) and nothing published, before the runs:`, "");
    lines.push(markdownTable([["server", "CPU ms / s"], ...idleCpu.map((c) => [c.server, fmt(c.msPerSecond)])]), "");
  }
  lines.push("Startup (spawn to first healthy answer) and idle memory before any client:", "");
  lines.push(markdownTable([["server", "startup ms", "idle RSS MiB", "idle heap MiB"], ...startup.map((s) => [s.server, fmt(s.startupMs, 0), fmt(s.idleRssMiB), fmt(s.idleHeapMiB)])]), "");
  lines.push("Goals (issue 13):", "", ...verdicts(cells).map((l) => `- ${l}`), "");
  const warnings = runs.filter((r) => r.bench.lagP99Ms > 20).map((r) => `client event loop lag p99 ${fmt(r.bench.lagP99Ms)} ms in ${r.variant}@${r.rate}: latency there includes the bench's own delay`);
  if (warnings.length > 0) lines.push("Warnings:", "", ...warnings.map((w) => `- ${w}`), "");
  lines.push(`Machine: ${os.cpus().length} cores, ${fmt(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}; run took ${fmt((Date.now() - started) / 60_000)} min.`);
  const text = lines.join("\n");
  process.stdout.write(`\n${text}\n`);
  const out = flags.out ? resolve(flags.out) : join(ROOT, `bench/results/throughput-${NODES}n.json`);
  mkdirSync(resolve(out, ".."), { recursive: true });
  writeFileSync(out, JSON.stringify({ config: { NODES, SESSIONS, RATES, WINDOW_S, WARMUP_S, IDLE, EVENT_BYTES, RELAY_ENV, PIN }, startup, idle, runs, report: text }, null, 2));
  // The report as Markdown next to it: bench/results/throughput-<n>n.md is the committed result.
  const report = out.replace(/\.json$/, "") + ".md";
  writeFileSync(report, `${text}\n`);
  process.stdout.write(`\nJSON: ${out}\nreport: ${report}\n`);
  for (const pop of pops) pop.close();
  return 0;
}

main().then(
  async (code) => {
    // A profile is written when the process exits by itself: servers stop gracefully then.
    await Promise.all(processes.map((p) => (writesProfile ? p.stop() : p.kill())));
    await redis?.stop();
    process.exit(code);
  },
  async (err: unknown) => {
    process.stderr.write(`throughput bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    await Promise.all(processes.map((p) => p.kill()));
    await redis?.stop();
    process.exit(1);
  },
);
