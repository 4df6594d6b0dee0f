/**
 * One population of bench/throughput.ts in a process of its own: N sessions, each a CLI and a viewer of
 * one stack, publishing on a global schedule and measuring latency (receive − send, one clock: the CLI
 * and its viewer live here). A process per population keeps each population's sockets, garbage and
 * pauses out of the others' measurements, and out of the parent, which only probes the servers.
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
  | { op: "open"; spec: PopulationSpec; urls: string[]; apiKey: string; cookie: string; sessions: number; eventBytes: number }
  | { op: "run"; rate: number; warmupS: number; windowS: number }
  | { op: "idle-open"; count: number; url: string }
  | { op: "idle-close" }
  | { op: "close" };

export interface ClientRun {
  sentInWindow: number;
  delivered: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
  /** Latencies (ms) of the events sent in the window; `inbound`: send → server broadcast (native viewers). */
  latencies: number[];
  inbound: number[];
  lagP99Ms: number;
  cpuPct: number;
  gcMs: number;
  gcMaxMs: number;
  incidents: number;
  samples: string[];
}

export type Reply =
  | { op: "opened"; seconds: number }
  | { op: "window-open" }
  | { op: "window-close" }
  | { op: "result"; run: ClientRun }
  | { op: "idle-opened" }
  | { op: "idle-closed" }
  | { op: "failed"; error: string };

interface Session {
  cli: Publisher;
  viewer: Watcher;
  sent: number;
  lastN: number;
  received: number;
  duplicated: number;
  outOfOrder: number;
}

const nowAbs = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const send = (reply: Reply): void => void process.send?.(reply);

const incidents: Incidents = { cliErrors: 0, viewerErrors: 0, unexpectedCloses: 0, samples: [] };
let sessions: Session[] = [];
let idle: Watcher[] = [];
let filler = "";
const window = { start: Infinity, end: -Infinity, latencies: [] as number[], inbound: [] as number[] };
const gc = { ms: 0, maxMs: 0 };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gc.ms += e.duration;
    gc.maxMs = Math.max(gc.maxMs, e.duration);
  }
}).observe({ entryTypes: ["gc"] });

async function inBatches<T>(count: number, batch: number, open: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < count; i += batch) out.push(...(await Promise.all(Array.from({ length: Math.min(batch, count - i) }, (_, k) => open(i + k)))));
  return out;
}

function onViewerEvent(session: () => Session | undefined) {
  return (_seq: unknown, event: unknown, publishedAt?: number): void => {
    const at = nowAbs();
    const s = session();
    const b = (event as { bench?: { n?: number; t?: number } } | undefined)?.bench;
    if (!s || typeof b?.n !== "number" || typeof b.t !== "number") return;
    if (b.n <= s.lastN) {
      if (b.n === s.lastN) s.duplicated++;
      else s.outOfOrder++;
      return;
    }
    s.lastN = b.n;
    s.received++;
    if (b.t >= window.start && b.t < window.end) {
      window.latencies.push(at - b.t);
      if (typeof publishedAt === "number") window.inbound.push(publishedAt - b.t);
    }
  };
}

async function openBareCli(url: string, i: number): Promise<Publisher> {
  const sessionId = `bare-${i}`;
  const socket = io(`${url}/relay`, { transports: ["websocket"], reconnection: false, forceNew: true, auth: { sessionId } });
  await new Promise<void>((ok, fail) => {
    socket.once("connect", () => ok());
    socket.once("connect_error", (err: Error) => fail(err));
  });
  return { sessionId, send: (seq, event) => void socket.emit("event", { seq, event }), close: () => void socket.disconnect() };
}

async function open(cmd: Extract<Command, { op: "open" }>): Promise<void> {
  const started = performance.now();
  const { spec, urls, apiKey, cookie } = cmd;
  filler = "x".repeat(Math.max(0, cmd.eventBytes - 160));
  const url = (i: number): string => urls[i % urls.length] ?? "";
  // CLI on node i, its viewer on node i + 1: in a cluster every event crosses nodes.
  sessions = await inBatches(cmd.sessions, 100, async (i) => {
    let session: Session | undefined;
    const cli = spec.bare ? await openBareCli(url(i), i) : spec.cli === "native" ? await openNativeCli(url(i), apiKey, incidents) : await openLegacyCli(url(i), apiKey, incidents);
    const onEvent = onViewerEvent(() => session);
    const viewer =
      spec.viewer === "native" ? await openNativeViewer(url(i + 1), cookie, cli.sessionId, onEvent, incidents) : await openLegacyViewer(url(i + 1), cookie, cli.sessionId, onEvent, incidents);
    session = { cli, viewer, sent: 0, lastN: 0, received: 0, duplicated: 0, outOfOrder: 0 };
    return session;
  });
  specOf = spec;
  send({ op: "opened", seconds: (performance.now() - started) / 1000 });
}
let specOf: PopulationSpec | null = null;

/** Every session publishes its share of `rate` on one schedule, round robin: no bursts. */
async function run(cmd: Extract<Command, { op: "run" }>): Promise<void> {
  for (const s of sessions) {
    s.received = s.sent;
    s.lastN = s.sent;
    s.duplicated = 0;
    s.outOfOrder = 0;
  }
  const baseSent = sessions.map((s) => s.sent);
  window.latencies = [];
  window.inbound = [];
  const t0 = nowAbs();
  window.start = t0 + cmd.warmupS * 1000;
  window.end = window.start + cmd.windowS * 1000;
  const lag = monitorEventLoopDelay({ resolution: 10 });
  let total = 0;
  let cursor = 0;
  let sentInWindow = 0;
  let opened = false;
  let cpuBefore = process.cpuUsage();
  let openedAt = 0;
  await new Promise<void>((done) => {
    const tick = (): void => {
      const now = nowAbs();
      if (now >= window.end) return done();
      if (!opened && now >= window.start) {
        opened = true;
        cpuBefore = process.cpuUsage();
        openedAt = performance.now();
        gc.ms = 0;
        gc.maxMs = 0;
        lag.enable();
        send({ op: "window-open" });
      }
      const due = Math.floor(((now - t0) * cmd.rate) / 1000);
      while (total < due) {
        const s = sessions[cursor];
        cursor = (cursor + 1) % sessions.length;
        total++;
        if (!s) continue;
        s.sent++;
        s.cli.send(s.sent, { type: "message_update", message: { role: "assistant", content: [{ type: "text", text: filler }] }, bench: { s: cursor, n: s.sent, t: nowAbs() } });
        if (opened) sentInWindow++;
      }
      setTimeout(tick, 1);
    };
    tick();
  });
  const cpu = process.cpuUsage(cpuBefore);
  const windowMs = performance.now() - openedAt;
  lag.disable();
  send({ op: "window-close" });
  // Drain: every event sent is received, or counted lost after 5 s.
  const deadline = performance.now() + 5_000;
  while (performance.now() < deadline && sessions.some((s) => s.received < s.sent)) await sleep(50);
  let lost = 0;
  let duplicated = 0;
  let outOfOrder = 0;
  let delivered = 0;
  sessions.forEach((s, i) => {
    lost += s.sent - s.received;
    duplicated += s.duplicated;
    outOfOrder += s.outOfOrder;
    delivered += s.received - (baseSent[i] ?? 0);
  });
  send({
    op: "result",
    run: {
      sentInWindow,
      delivered,
      lost,
      duplicated,
      outOfOrder,
      latencies: window.latencies,
      inbound: window.inbound,
      lagP99Ms: Math.max(0, lag.percentile(99) / 1e6 - 10),
      cpuPct: (100 * (cpu.user + cpu.system)) / 1000 / Math.max(windowMs, 1),
      gcMs: gc.ms,
      gcMaxMs: gc.maxMs,
      incidents: incidents.cliErrors + incidents.viewerErrors + incidents.unexpectedCloses,
      samples: incidents.samples,
    },
  });
}

async function idleOpen(cmd: Extract<Command, { op: "idle-open" }>): Promise<void> {
  const ignore = (): void => undefined;
  idle = await inBatches(cmd.count, 100, (i) => {
    const sessionId = sessions[i % sessions.length]?.cli.sessionId ?? "";
    return specOf?.viewer === "legacy" ? openLegacyViewer(cmd.url, cookieOf, sessionId, ignore, incidents) : openNativeViewer(cmd.url, cookieOf, sessionId, ignore, incidents);
  });
  send({ op: "idle-opened" });
}
let cookieOf = "";

process.on("message", (msg: Command) => {
  const work = async (): Promise<void> => {
    switch (msg.op) {
      case "open":
        cookieOf = msg.cookie;
        return open(msg);
      case "run":
        return run(msg);
      case "idle-open":
        return idleOpen(msg);
      case "idle-close":
        for (const w of idle.splice(0)) w.close();
        await sleep(500);
        return send({ op: "idle-closed" });
      case "close":
        for (const s of sessions) (s.viewer.close(), s.cli.close());
        await sleep(200);
        process.exit(0);
    }
  };
  work().catch((err: unknown) => send({ op: "failed", error: err instanceof Error ? (err.stack ?? err.message) : String(err) }));
});
// The parent's end is this process's end.
process.on("disconnect", () => process.exit(0));
