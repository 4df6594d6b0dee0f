import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { staleBuild } from "../../scripts/dist-freshness.js";
import { freePort } from "../../test/helpers/redis.js";

const ROOT = resolve(import.meta.dirname, "../..");
const BIN = join(ROOT, "bin/pizzapi-relay.js");

/** One relay node: a real `pizzapi-relay start` process on 127.0.0.1. */
export interface BenchNode {
  name: string;
  url: string;
  port: number;
  pid: number;
  /** Warn/error lines the node printed (it runs at PIZZAPI_LOG_LEVEL=warn). */
  logs: string[];
  stop(): Promise<void>;
  /** Synchronous SIGKILL, for `process.on("exit")`. */
  killNow(): void;
  /** SIGKILL, resolved once the process is gone. */
  kill(): Promise<void>;
  /** The process's own CPU, heap and GC counts (bench/lib/probe.mjs); only with `probe: true`. */
  probe(options?: { gc?: boolean; reset?: boolean }): Promise<ProbeReading>;
  /** Milliseconds from spawn to the first healthy answer. */
  startupMs: number;
}

/** What bench/lib/probe.mjs answers. */
export interface ProbeReading {
  cpuMicros: { user: number; system: number };
  /** Read and write system calls since the process started (NaN off Linux). */
  syscalls: { reads: number; writes: number };
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  gc: { minor: number; major: number; other: number; ms: number; maxPauseMs: number };
  /** Event-loop delay since the last reading taken with `reset`. */
  loop: { p99Ms: number; maxMs: number };
}


export interface BenchNodeOptions {
  name: string;
  /** Absent: embedded mode (no Redis). */
  redisUrl?: string;
  prefix: string;
  env?: Record<string, string>;
  /** Extra arguments of the node binary (e.g. `--cpu-prof`), before the script. */
  nodeArgs?: string[];
  /** Preload bench/lib/probe.mjs over an IPC channel (`BenchNode.probe`), with --expose-gc. */
  probe?: boolean;
  /** Another built checkout whose relay to run (a baseline revision); default: this one. */
  root?: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Starts a relay node. Unlike test/helpers/cluster.ts `startNode` (which waits for the info-level
 * "listening" line), this one runs the node at `warn` and waits for `/healthz` on a port chosen here.
 */
export async function startBenchNode(options: BenchNodeOptions): Promise<BenchNode> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      return await spawnOn(options, port);
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError instanceof Error ? lastError : new Error(`${options.name} did not start`);
}

/** Starts a relay node on a given port (a restarted node keeps its place behind the load balancer). */
export async function startBenchNodeOn(options: BenchNodeOptions, port: number): Promise<BenchNode> {
  return spawnOn(options, port);
}

async function spawnOn(options: BenchNodeOptions, port: number): Promise<BenchNode> {
  // The bin runs dist/: a bench of a stale build would measure code that is no longer there. (A
  // baseline checkout is the caller's to build.)
  const stale = options.root === undefined ? staleBuild() : null;
  if (stale !== null) throw new Error(`dist/ is stale (${stale}): run \`npm run build\` first`);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? tmpdir(),
    PORT: String(port),
    PIZZAPI_HOST: "127.0.0.1",
    PIZZAPI_BASE_URL: "http://relay.bench",
    ...(options.redisUrl ? { PIZZAPI_REDIS_URL: options.redisUrl, PIZZAPI_SIO_ADAPTER: "redis-streams" } : {}),
    PIZZAPI_REDIS_PREFIX: options.prefix,
    PIZZAPI_LOG_LEVEL: "warn",
    PIZZAPI_NODE_ID: options.name,
    PIZZAPI_DATA_DIR: mkdtempSync(join(tmpdir(), "pizzapi-bench-")),
    ...options.env,
  };
  const bin = options.root === undefined ? BIN : join(resolve(options.root), "bin/pizzapi-relay.js");
  return spawnServer(options.name, [...relayNodeFlags(bin), ...(options.nodeArgs ?? []), bin, "start"], env, port, options.probe === true);
}

/**
 * The node flags the relay runs with, from the bin's `#!/usr/bin/env -S node ...` line (their one
 * place): the bench spawns `node <flags> bin/pizzapi-relay.js`, as the shebang would.
 */
export function relayNodeFlags(bin = BIN): string[] {
  const first = readFileSync(bin, "utf8").split("\n", 1)[0] ?? "";
  const match = /^#!\/usr\/bin\/env -S node (.+)$/.exec(first);
  return match?.[1]?.trim().split(/\s+/) ?? [];
}

/** Starts the bare Socket.IO reference (bench/lib/bare-server.ts), probed like a relay node. */
export async function startBareServer(name: string, redisUrl?: string, prefix = "", nodeArgs: string[] = []): Promise<BenchNode> {
  const port = await freePort();
  const env: Record<string, string> = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? tmpdir(), PORT: String(port), REDIS_PREFIX: prefix };
  if (redisUrl) env.REDIS_URL = redisUrl;
  return spawnServer(name, [...nodeArgs, "--import", "tsx", join(ROOT, "bench/lib/bare-server.ts")], env, port, true, "/socket.io/?EIO=4&transport=polling");
}

let logDir: string | null = null;
/** Also append every server's output, from then on, to `<dir>/<server name>.log` (e.g. with `--trace-gc`). */
export function keepServerLogs(dir: string): void {
  logDir = dir;
}

/**
 * Spawns a server process and waits until `healthPath` answers 200. With `probe`, the process preloads
 * bench/lib/probe.mjs on an IPC channel and runs with --expose-gc.
 */
async function spawnServer(name: string, args: string[], env: Record<string, string>, port: number, probe: boolean, healthPath = "/healthz"): Promise<BenchNode> {
  const spawnedAt = performance.now();
  const probeArgs = probe ? ["--expose-gc", "--import", pathToFileURL(join(ROOT, "bench/lib/probe.mjs")).href] : [];
  const proc: ChildProcess = spawn(process.execPath, [...probeArgs, ...args], { env, cwd: ROOT, stdio: ["ignore", "pipe", "pipe", ...(probe ? (["ipc"] as const) : [])] });
  const logs: string[] = [];
  const collect = (chunk: Buffer): void => {
    if (logDir !== null) appendFileSync(join(logDir, `${name}.log`), chunk);
    for (const line of chunk.toString("utf8").split("\n")) if (line.trim()) logs.push(line);
  };
  proc.stdout?.on("data", collect);
  proc.stderr?.on("data", collect);
  const exited = new Promise<void>((done) => proc.once("exit", () => done()));
  let dead = false;
  void exited.then(() => (dead = true));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (dead) throw new Error(`${name} exited before it was healthy:\n${logs.join("\n")}`);
    try {
      const res = await fetch(`${url}${healthPath}`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`${name} not healthy after 30 s:\n${logs.join("\n")}`);
    }
    await sleep(20);
  }
  const startupMs = performance.now() - spawnedAt;
  let probes = 0;
  const probeOnce = (options?: { gc?: boolean; reset?: boolean }): Promise<ProbeReading> =>
    new Promise((answered, failed) => {
      if (!proc.send) return failed(new Error(`${name} was started without a probe`));
      const id = ++probes;
      const timer = setTimeout(() => failed(new Error(`${name}: no probe answer in 10 s`)), 10_000);
      const onMessage = (msg: unknown): void => {
        if (typeof msg !== "object" || msg === null || (msg as { probe?: unknown }).probe !== id) return;
        clearTimeout(timer);
        proc.off("message", onMessage);
        answered(msg as ProbeReading);
      };
      proc.on("message", onMessage);
      proc.send({ probe: id, gc: options?.gc === true, reset: options?.reset === true });
    });
  const killNow = (): void => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
  };
  return {
    name,
    url,
    port,
    pid: proc.pid ?? -1,
    logs,
    startupMs,
    probe: probeOnce,
    killNow,
    kill: async () => {
      killNow();
      await exited;
    },
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      const force = setTimeout(killNow, 15_000);
      await exited;
      clearTimeout(force);
    },
  };
}

/** Waits until every node is ready and its adapter counts all the nodes (`/readyz`). */
export async function awaitBenchMesh(nodes: BenchNode[], timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const node of nodes) {
    let last = "no answer";
    for (;;) {
      try {
        const res = await fetch(`${node.url}/readyz`);
        const text = await res.text();
        last = `${res.status} ${text.slice(0, 300)}`;
        const body = JSON.parse(text) as { ok?: boolean; nodes?: number | null };
        if (res.ok && body.nodes === nodes.length) break;
      } catch (err) {
        last = err instanceof Error ? err.message : String(err);
      }
      if (Date.now() > deadline) throw new Error(`${node.name} did not see a ${nodes.length}-node mesh (last /readyz: ${last})`);
      await sleep(100);
    }
  }
}

/** Logs in with an API key and returns the `Cookie` header value a browser would send. */
export async function benchLogin(url: string, apiKey: string): Promise<string> {
  const res = await fetch(`${url}/api/auth/session`, { method: "POST", headers: { "x-api-key": apiKey } });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
  const setCookie = res.headers.get("set-cookie");
  if (!setCookie) throw new Error("login set no cookie");
  return setCookie.split(";")[0] ?? "";
}
