/**
 * One side of a population of bench/throughput.ts, in a process of its own: either its CLIs, which
 * publish on a global schedule, or its viewers, which measure latency (receive − send, both read as
 * wall-clock time, `performance.timeOrigin + performance.now()`, on one machine). A process per side and
 * per population keeps each side's sockets, garbage and pauses out of the other's figures, and out of
 * the parent, which only probes the servers: with CLIs and viewers in one process, that process's own
 * delay reached 14–38 ms p99 at 6,000 events/s and was counted as latency.
 *
 * Driven over IPC by bench/throughput.ts (`fork` with `--import tsx`); see `Command` and `Reply`.
 */
import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";
import { io } from "socket.io-client";
import { openLegacyCli, openLegacyViewer, openNativeCli, openNativeViewer, type Incidents, type Publisher, type Watcher } from "./clients.js";

export type Stack = "native" | "legacy";

export interface PopulationSpec {
  key: string;
  cli: Stack;
  viewer: Stack;
  /** The bare reference server: CLIs need no registration, the session id is chosen here. */
  bare: boolean;
}

export type Command =
  | { op: "open-clis"; spec: PopulationSpec; urls: string[]; apiKey: string; sessions: number; eventBytes: number }
  | { op: "open-viewers"; spec: PopulationSpec; urls: string[]; cookie: string; sessionIds: string[] }
  | { op: "run"; rate: number; warmupS: number; windowS: number }
  | { op: "listen" }
  | { op: "drain"; sent: number[]; windowStart: number; windowEnd: number }
  | { op: "idle-open"; count: number; url: string }
  | { op: "idle-close" }
  | { op: "close" };

/** What a side measured of itself while it worked. */
export interface SideLoad {
  lagP99Ms: number;
  cpuPct: number;
  gcMaxMs: number;
}

export interface Published {
  /** Events each session's CLI sent in this run. */
  sent: number[];
  sentInWindow: number;
  windowStart: number;
  windowEnd: number;
  load: SideLoad;
}

export interface Received {
  delivered: number;
  /** Never received, though the viewers were given until deliveries stopped (up to a minute). */
  lost: number;
  /** Received, but more than 5 s after the window closed (an overloaded server's backlog). */
  late: number;
  duplicated: number;
  outOfOrder: number;
  /** Latencies (ms) of the events sent in the window; `inbound`: send → server broadcast (native viewers). */
  latencies: number[];
  inbound: number[];
  load: SideLoad;
}

export type Reply =
  | { op: "opened"; seconds: number; sessionIds: string[] }
  | { op: "window-open" }
  | { op: "window-close" }
  | { op: "published"; run: Published; incidents: number; samples: string[] }
  | { op: "listening" }
  | { op: "received"; run: Received; incidents: number; samples: string[] }
  | { op: "idle-opened" }
  | { op: "idle-closed" }
  | { op: "failed"; error: string };

const nowAbs = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const send = (reply: Reply): void => void process.send?.(reply);

const incidents: Incidents = { cliErrors: 0, viewerErrors: 0, unexpectedCloses: 0, samples: [] };
const incidentCount = (): number => incidents.cliErrors + incidents.viewerErrors + incidents.unexpectedCloses;
const gc = { maxMs: 0 };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gc.maxMs = Math.max(gc.maxMs, e.duration);
}).observe({ entryTypes: ["gc"] });

/** This process's own event-loop delay, CPU and longest GC pause over a span of work. */
function measureLoad(): () => SideLoad {
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const cpu = process.cpuUsage();
  const started = performance.now();
  gc.maxMs = 0;
  return () => {
    lag.disable();
    const used = process.cpuUsage(cpu);
    return {
      lagP99Ms: Math.max(0, lag.percentile(99) / 1e6 - 10),
      cpuPct: (100 * (used.user + used.system)) / 1000 / Math.max(performance.now() - started, 1),
      gcMaxMs: gc.maxMs,
    };
  };
}

async function inBatches<T>(count: number, batch: number, open: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < count; i += batch) out.push(...(await Promise.all(Array.from({ length: Math.min(batch, count - i) }, (_, k) => open(i + k)))));
  return out;
}

// ---------------------------------------------------------------------------------------------------
// The CLI side

let clis: Publisher[] = [];
const sentTotal: number[] = [];
let filler = "";

async function openBareCli(url: string, i: number): Promise<Publisher> {
  const sessionId = `bare-${i}`;
  const socket = io(`${url}/relay`, { transports: ["websocket"], reconnection: false, forceNew: true, auth: { sessionId } });
  await new Promise<void>((ok, fail) => {
    socket.once("connect", () => ok());
    socket.once("connect_error", (err: Error) => fail(err));
  });
  return { sessionId, send: (seq, event) => void socket.emit("event", { seq, event }), close: () => void socket.disconnect() };
}

async function openClis(cmd: Extract<Command, { op: "open-clis" }>): Promise<void> {
  const started = performance.now();
  const { spec, urls, apiKey } = cmd;
  filler = "x".repeat(Math.max(0, cmd.eventBytes - 160));
  // CLI on node i, its viewer on node i + 1 (open-viewers): in a cluster every event crosses nodes.
  clis = await inBatches(cmd.sessions, 100, (i) => {
    const url = urls[i % urls.length] ?? "";
    return spec.bare ? openBareCli(url, i) : spec.cli === "native" ? openNativeCli(url, apiKey, incidents) : openLegacyCli(url, apiKey, incidents);
  });
  for (let i = 0; i < clis.length; i++) sentTotal[i] = 0;
  send({ op: "opened", seconds: (performance.now() - started) / 1000, sessionIds: clis.map((c) => c.sessionId) });
}

/** Every session publishes its share of `rate` on one schedule, round robin: no bursts. */
async function run(cmd: Extract<Command, { op: "run" }>): Promise<void> {
  const sent = clis.map(() => 0);
  const t0 = nowAbs();
  const windowStart = t0 + cmd.warmupS * 1000;
  const windowEnd = windowStart + cmd.windowS * 1000;
  let total = 0;
  let cursor = 0;
  let sentInWindow = 0;
  let finish: (() => SideLoad) | null = null;
  await new Promise<void>((done) => {
    const tick = (): void => {
      const now = nowAbs();
      if (now >= windowEnd) return done();
      if (!finish && now >= windowStart) {
        finish = measureLoad();
        send({ op: "window-open" });
      }
      const due = Math.floor(((now - t0) * cmd.rate) / 1000);
      while (total < due) {
        const i = cursor;
        cursor = (cursor + 1) % clis.length;
        total++;
        const cli = clis[i];
        if (!cli) continue;
        sent[i] = (sent[i] ?? 0) + 1;
        const n = (sentTotal[i] = (sentTotal[i] ?? 0) + 1);
        cli.send(n, { type: "message_update", message: { role: "assistant", content: [{ type: "text", text: filler }] }, bench: { s: i, n, t: nowAbs() } });
        if (finish) sentInWindow++;
      }
      setTimeout(tick, 1);
    };
    tick();
  });
  const load = finish ? (finish as () => SideLoad)() : { lagP99Ms: NaN, cpuPct: NaN, gcMaxMs: NaN };
  send({ op: "window-close" });
  send({ op: "published", run: { sent, sentInWindow, windowStart, windowEnd, load }, incidents: incidentCount(), samples: incidents.samples });
}

// ---------------------------------------------------------------------------------------------------
// The viewer side

interface Watch {
  viewer: Watcher;
  sessionId: string;
  lastN: number;
  received: number;
  duplicated: number;
  outOfOrder: number;
}

let watches: Watch[] = [];
let idle: Watcher[] = [];
let viewerSpec: PopulationSpec | null = null;
let viewerCookie = "";
/** Every event of the current run: its send time, its latency and (native viewers) send → broadcast. */
let seen: { t: number[]; latency: number[]; inbound: number[] } = { t: [], latency: [], inbound: [] };
let finishListening: (() => SideLoad) | null = null;

function onViewerEvent(watch: () => Watch | undefined) {
  return (_seq: unknown, event: unknown, publishedAt?: number): void => {
    const at = nowAbs();
    const w = watch();
    const b = (event as { bench?: { n?: number; t?: number } } | undefined)?.bench;
    if (!w || typeof b?.n !== "number" || typeof b.t !== "number") return;
    if (b.n <= w.lastN) {
      if (b.n === w.lastN) w.duplicated++;
      else w.outOfOrder++;
      return;
    }
    w.lastN = b.n;
    w.received++;
    seen.t.push(b.t);
    seen.latency.push(at - b.t);
    seen.inbound.push(typeof publishedAt === "number" ? publishedAt - b.t : NaN);
  };
}

async function openViewers(cmd: Extract<Command, { op: "open-viewers" }>): Promise<void> {
  const started = performance.now();
  viewerSpec = cmd.spec;
  viewerCookie = cmd.cookie;
  watches = await inBatches(cmd.sessionIds.length, 100, async (i) => {
    let watch: Watch | undefined;
    const url = cmd.urls[(i + 1) % cmd.urls.length] ?? "";
    const sessionId = cmd.sessionIds[i] ?? "";
    const onEvent = onViewerEvent(() => watch);
    const viewer =
      cmd.spec.viewer === "native" ? await openNativeViewer(url, cmd.cookie, sessionId, onEvent, incidents) : await openLegacyViewer(url, cmd.cookie, sessionId, onEvent, incidents);
    watch = { viewer, sessionId, lastN: 0, received: 0, duplicated: 0, outOfOrder: 0 };
    return watch;
  });
  send({ op: "opened", seconds: (performance.now() - started) / 1000, sessionIds: cmd.sessionIds });
}

function listen(): void {
  for (const w of watches) {
    w.received = 0;
    w.duplicated = 0;
    w.outOfOrder = 0;
  }
  seen = { t: [], latency: [], inbound: [] };
  finishListening = measureLoad();
  send({ op: "listening" });
}

/**
 * Waits until every event sent was received, then reports the run. What has not come 5 s after the
 * window is late; the viewers then keep waiting while events still arrive (up to a minute, until none
 * has come for 3 s), so that "lost" counts only events that never came, not an overloaded server's
 * backlog.
 */
async function drain(cmd: Extract<Command, { op: "drain" }>): Promise<void> {
  const load = finishListening?.() ?? { lagP99Ms: NaN, cpuPct: NaN, gcMaxMs: NaN };
  const missing = (): boolean => watches.some((w, i) => w.received < (cmd.sent[i] ?? 0));
  const total = (): number => watches.reduce((n, w) => n + w.received, 0);
  const started = performance.now();
  while (performance.now() < started + 5_000 && missing()) await sleep(50);
  const onTime = total();
  let seenTotal = onTime;
  let progressAt = performance.now();
  while (missing() && performance.now() - progressAt < 3_000 && performance.now() < started + 60_000) {
    await sleep(100);
    const now = total();
    if (now > seenTotal) {
      seenTotal = now;
      progressAt = performance.now();
    }
  }
  const late = total() - onTime;
  let lost = 0;
  let duplicated = 0;
  let outOfOrder = 0;
  let delivered = 0;
  watches.forEach((w, i) => {
    lost += Math.max(0, (cmd.sent[i] ?? 0) - w.received);
    duplicated += w.duplicated;
    outOfOrder += w.outOfOrder;
    delivered += w.received;
  });
  const latencies: number[] = [];
  const inbound: number[] = [];
  for (let k = 0; k < seen.t.length; k++) {
    const t = seen.t[k] as number;
    if (t < cmd.windowStart || t >= cmd.windowEnd) continue;
    latencies.push(seen.latency[k] as number);
    const inb = seen.inbound[k] as number;
    if (!Number.isNaN(inb)) inbound.push(inb);
  }
  send({ op: "received", run: { delivered, lost, late, duplicated, outOfOrder, latencies, inbound, load }, incidents: incidentCount(), samples: incidents.samples });
}

async function idleOpen(cmd: Extract<Command, { op: "idle-open" }>): Promise<void> {
  const ignore = (): void => undefined;
  idle = await inBatches(cmd.count, 100, (i) => {
    const sessionId = watches[i % watches.length]?.sessionId ?? "";
    return viewerSpec?.viewer === "legacy" ? openLegacyViewer(cmd.url, viewerCookie, sessionId, ignore, incidents) : openNativeViewer(cmd.url, viewerCookie, sessionId, ignore, incidents);
  });
  send({ op: "idle-opened" });
}

process.on("message", (msg: Command) => {
  const work = async (): Promise<void> => {
    switch (msg.op) {
      case "open-clis":
        return openClis(msg);
      case "open-viewers":
        return openViewers(msg);
      case "run":
        return run(msg);
      case "listen":
        return listen();
      case "drain":
        return drain(msg);
      case "idle-open":
        return idleOpen(msg);
      case "idle-close":
        for (const w of idle.splice(0)) w.close();
        await sleep(500);
        return send({ op: "idle-closed" });
      case "close":
        for (const w of watches) w.viewer.close();
        for (const c of clis) c.close();
        await sleep(200);
        process.exit(0);
    }
  };
  work().catch((err: unknown) => send({ op: "failed", error: err instanceof Error ? (err.stack ?? err.message) : String(err) }));
});
// The parent's end is this process's end.
process.on("disconnect", () => process.exit(0));
