/**
 * Seeded fuzzing of one relay process (embedded mode), both stacks, before and after authentication.
 *
 * How to run it longer, or replay a failure: the default budget is 15 s of fuzzing (`npm test`);
 * `FUZZ_BUDGET_MS=600000 npx vitest run test/fuzz` fuzzes for ten minutes. Inputs come from a seeded PRNG
 * (test/fuzz/generators.ts): the seed is in the test name and in every failure message, and
 * `FUZZ_SEED=<seed>` replays the same inputs (task N always gets the same input for a given seed, however
 * the run is timed); `FUZZ_TASKS=12,57` replays just those tasks of that seed. `FUZZ_STRICT=1` also fails
 * on relay-logged internal errors (which the relay survives by design but which are bugs).
 *
 * What it does: mints API keys for user "fuzzer", user "victim" (whose session, runner and terminal
 * exist, so the fuzzer can name someone else's ids) and user "checker", starts the relay, and then, in
 * batches of concurrent tasks until the budget is spent, hammers it with
 *   (a) before authentication: raw TCP HTTP requests and upgrades with garbage request lines, paths and
 *       headers; `/ws/*` upgrades without or with wrong credentials; engine.io handshakes (WebSocket and
 *       polling) followed by garbage; namespace CONNECTs with garbage auth of every shape;
 *   (b) after authentication: legacy connections on all five `/ws/*` endpoints with valid credentials and
 *       ids, sending generated frames; Socket.IO connections on all five namespaces (a valid CONNECT,
 *       then generated EVENTs and other packets); raw malformed WebSocket frames after a valid upgrade.
 * At most MAX_OPEN_SOCKETS sockets are open at once, everything opened is closed, and only 127.0.0.1 is
 * contacted. After every batch: the relay process must still run, its RSS (VmRSS of its pid) must stay
 * under RSS_LIMIT_MIB, and /healthz must answer within 5 s. At the end the relay must still serve a normal
 * flow (a legacy CLI registers and publishes and a viewer sees it; a Socket.IO CLI registers), the
 * victim's session must be untouched, and the relay must count no connection the test has closed.
 *
 * Memory: the bound is on what the relay retains, not on garbage it has not collected yet. Big frames
 * are copied several times on their way through (decoding, validation, fan-out), and with its default
 * heap limit (gigabytes here) V8 lets that garbage pile up before a full collection, so RSS peaks far
 * above what is live (seed 777 for 240 s: 533 MiB RSS, a failure, while 120–160 MiB is live). The relay
 * therefore runs with its V8 heap capped at HEAP_LIMIT_MIB (`--max-old-space-size`, old generation; V8
 * adds at most 48 MiB of young generation): it collects before it gets there, and a relay that really
 * retains more than that (a leak, an unbounded buffer) ends with "Reached heap limit", which fails the
 * run like any other exit. 320 MiB is twice what the relay retains under this fuzzing once its buffers
 * are full (120–160 MiB live after full collections, 214 MiB at the very most, on that run: the idle
 * relay, the 64 MiB recovery buffer, frames of up to 4 MiB in flight), so a healthy relay stays well
 * below it; and 320 + 48 MiB of heap plus the rest of the process (45 MiB of mapped code, native memory,
 * off-heap buffers) fits under RSS_LIMIT_MIB, which still catches growth outside the V8 heap. With the
 * cap, the same 240 s run peaks at 430–460 MiB RSS.
 */

import { mkdtempSync, readFileSync } from "node:fs";
import { request, type IncomingHttpHeaders } from "node:http";
import { connect as tcpConnect, type Socket as TcpSocket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { CLIENT_SCHEMAS } from "../../protocol/index.js";
import { FileApiKeyStore } from "../../server/state/file-keys.js";
import { connectCli, connected } from "../helpers/clients.js";
import { startNode, type NodeProcess } from "../helpers/cluster.js";
import { LegacyClient } from "../helpers/legacy.js";
import { legacyCli, legacyRunner, sendLegacyEvents, type LegacyCli } from "../helpers/legacy-flows.js";
import { Scrape } from "../helpers/metrics.js";
import { sleep } from "../helpers/wait.js";
import {
  CLIENT_EVENTS,
  LEGACY_ENDPOINTS,
  NAMESPACES,
  Rng,
  badLegacyCredentials,
  deriveSeed,
  engineGarbage,
  engineQuery,
  legacyFrame,
  legacyTypes,
  payloadFor,
  pollingPayload,
  preview,
  rawHttpRequest,
  rawWsFrames,
  sioConnectGarbage,
  sioEvent,
  sioFrames,
  validAuth,
  type FuzzIds,
  type HandshakeKeys,
  type LegacyEndpoint,
  type Namespace,
  type Wire,
} from "./generators.js";

const BUDGET_MS = Number(process.env.FUZZ_BUDGET_MS ?? 15_000);
const SEED = process.env.FUZZ_SEED !== undefined && process.env.FUZZ_SEED !== "" ? Number(process.env.FUZZ_SEED) >>> 0 : 20_240_613;
const ONLY_TASKS = (process.env.FUZZ_TASKS ?? "")
  .split(",")
  .map((s) => s.trim())
  .filter((s) => s !== "")
  .map(Number);
const STRICT = process.env.FUZZ_STRICT === "1";
/** FUZZ_VERBOSE=1 prints how often the relay logged each message (what the inputs reached). */
const VERBOSE = process.env.FUZZ_VERBOSE === "1";
/**
 * The relay's resident set must stay under 512 MiB. An idle relay sits near 100 MiB; the fuzzer keeps
 * at most a few multi-megabyte frames in flight, so anything near the bound is growth, not noise.
 */
const RSS_LIMIT_MIB = 512;
/** The relay's V8 heap (old generation) is capped at this: garbage is collected before RSS nears the bound (see the header). */
const HEAP_LIMIT_MIB = 320;
/** Concurrent tasks per batch, and the cap on sockets the test holds open at once (all kinds). */
const CONCURRENCY = 24;
const MAX_OPEN_SOCKETS = 48;
/** A task is cut off after this long (its sockets are destroyed); that is the test's timeout, not a relay failure. */
const TASK_TIMEOUT_MS = 6_000;
const HEALTH_TIMEOUT_MS = 5_000;
const RUNNER_TOKEN = "fuzz-shared-runner-token-0123456789";

// ---------------------------------------------------------------------------------------------------
// Bounded socket accounting: every socket the test opens is a Resource, counted against the cap.

interface Resource {
  what: string;
  /** Graceful end (close handshake / FIN). */
  end(): void;
  /** Immediate destroy. */
  kill(): void;
  closed: Promise<void>;
}

class SocketPool {
  private open = 0;
  peak = 0;
  readonly live = new Set<Resource>();
  private readonly waiters: Array<() => void> = [];
  constructor(readonly max: number) {}
  async acquire(): Promise<void> {
    while (this.open >= this.max) await new Promise<void>((resolve) => this.waiters.push(resolve));
    this.open++;
    this.peak = Math.max(this.peak, this.open);
  }
  release(): void {
    this.open--;
    this.waiters.shift()?.();
  }
  get count(): number {
    return this.open;
  }
}

/** The resources of one task: all of them are closed when the task ends, whatever happened. */
class Scope {
  private readonly resources = new Set<Resource>();
  constructor(private readonly pool: SocketPool) {}

  async open<R extends Resource>(make: () => R): Promise<R> {
    await this.pool.acquire();
    let resource: R;
    try {
      resource = make();
    } catch (err) {
      this.pool.release();
      throw err;
    }
    this.resources.add(resource);
    this.pool.live.add(resource);
    void resource.closed.then(() => {
      this.resources.delete(resource);
      this.pool.live.delete(resource);
      this.pool.release();
    });
    return resource;
  }

  /** Ends everything gracefully (or not), then destroys what did not close within `graceMs`. */
  async closeAll(graceful: boolean, graceMs = 1_000): Promise<void> {
    const all = [...this.resources];
    for (const r of all) (graceful ? r.end() : r.kill());
    await Promise.race([Promise.all(all.map((r) => r.closed)), sleep(graceMs)]);
    for (const r of this.resources) r.kill();
    await Promise.race([Promise.all(all.map((r) => r.closed)), sleep(2_000)]);
  }
}

/** A WebSocket client that keeps the last messages, answers engine.io pings, and never throws. */
class WsConn implements Resource {
  readonly ws: WebSocket;
  readonly closed: Promise<void>;
  /** Resolves when the handshake ends: open, or refused with an HTTP status, or failed. */
  readonly opened: Promise<{ ok: boolean; status?: number; error?: string }>;
  isOpen = false;
  isClosed = false;
  messages = 0;
  private readonly recent: string[] = [];
  private readonly matchers = new Set<{ test: (m: string) => boolean; done: (m: string | null) => void }>();

  constructor(
    readonly what: string,
    url: string,
    headers: Record<string, string>,
    private readonly engine: boolean,
    private readonly onMessage?: (m: string) => void,
  ) {
    this.ws = new WebSocket(url, { headers, perMessageDeflate: false, handshakeTimeout: 3_000, maxPayload: 64 * 1024 * 1024 });
    this.ws.on("error", () => undefined);
    this.closed = new Promise<void>((resolve) =>
      this.ws.once("close", () => {
        this.isClosed = true;
        this.isOpen = false;
        for (const m of this.matchers) m.done(null);
        this.matchers.clear();
        resolve();
      }),
    );
    this.opened = new Promise((resolve) => {
      this.ws.once("open", () => {
        this.isOpen = true;
        resolve({ ok: true });
      });
      this.ws.once("unexpected-response", (_req, res) => {
        res.resume();
        resolve({ ok: false, status: res.statusCode });
        this.ws.terminate();
      });
      this.ws.once("error", (err) => resolve({ ok: false, error: err.message }));
      this.ws.once("close", () => resolve({ ok: false, error: "closed" }));
    });
    this.ws.on("message", (data: WebSocket.RawData, isBinary: boolean) => {
      const text = isBinary ? "<binary>" : data.toString();
      this.messages++;
      if (this.engine && text === "2") this.raw("3");
      this.recent.push(text.length > 8_192 ? text.slice(0, 8_192) : text);
      if (this.recent.length > 50) this.recent.shift();
      this.onMessage?.(text);
      for (const m of this.matchers) {
        if (m.test(text)) {
          this.matchers.delete(m);
          m.done(text);
        }
      }
    });
  }

  raw(data: string | Buffer, binary = false): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(data, { binary }, () => undefined);
  }

  /** The first message (already received, or coming within `timeoutMs`) that passes `test`; null otherwise. */
  waitFor(test: (m: string) => boolean, timeoutMs: number): Promise<string | null> {
    const seen = this.recent.find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    if (this.isClosed) return Promise.resolve(null);
    return new Promise((resolve) => {
      const matcher = {
        test,
        done: (m: string | null) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      const timer = setTimeout(() => {
        this.matchers.delete(matcher);
        resolve(null);
      }, timeoutMs);
      this.matchers.add(matcher);
    });
  }

  async waitClosed(timeoutMs: number): Promise<void> {
    await Promise.race([this.closed, sleep(timeoutMs)]);
  }

  end(): void {
    if (this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
    else this.ws.close(1000);
  }

  kill(): void {
    this.ws.terminate();
  }
}

/** A raw TCP connection: writes bytes, keeps what comes back (bounded). */
class TcpConn implements Resource {
  readonly socket: TcpSocket;
  readonly closed: Promise<void>;
  readonly connected: Promise<boolean>;
  received = Buffer.alloc(0);
  isClosed = false;
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly what: string,
    port: number,
  ) {
    this.socket = tcpConnect({ port, host: "127.0.0.1" });
    this.socket.on("error", () => undefined);
    this.connected = new Promise((resolve) => {
      this.socket.once("connect", () => resolve(true));
      this.socket.once("close", () => resolve(false));
    });
    this.closed = new Promise((resolve) =>
      this.socket.once("close", () => {
        this.isClosed = true;
        this.wake();
        resolve();
      }),
    );
    this.socket.on("data", (chunk: Buffer) => {
      if (this.received.length < 65_536) this.received = Buffer.concat([this.received, chunk]);
      this.wake();
    });
  }

  private wake(): void {
    for (const w of this.waiters) w();
    this.waiters.clear();
  }

  write(bytes: Buffer): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(bytes, () => undefined);
  }

  get firstLine(): string {
    return this.received.toString("latin1").split("\r\n")[0] ?? "";
  }

  /** Waits until `predicate` holds (checked on every chunk and on close) or `timeoutMs` passes. */
  async until(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      const left = deadline - Date.now();
      if (left <= 0 || this.isClosed) return predicate();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.add(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return true;
  }

  end(): void {
    this.socket.end();
  }

  kill(): void {
    this.socket.destroy();
  }
}

/** One HTTP request on its own connection (no keep-alive pool), to 127.0.0.1 only. */
class HttpCall implements Resource {
  readonly closed: Promise<void>;
  readonly response: Promise<{ status: number; headers: IncomingHttpHeaders; body: string } | { error: string }>;
  private readonly req: ReturnType<typeof request>;

  constructor(
    readonly what: string,
    port: number,
    options: { method: string; path: string; headers?: Record<string, string>; body?: string | Buffer; timeoutMs: number },
  ) {
    this.req = request({ host: "127.0.0.1", port, method: options.method, path: options.path, headers: options.headers, agent: false });
    this.closed = new Promise((resolve) => this.req.once("close", () => resolve()));
    this.response = new Promise((resolve) => {
      this.req.once("error", (err) => resolve({ error: err.message }));
      this.req.once("response", (res) => {
        let body = "";
        res.on("data", (c: Buffer) => {
          if (body.length < 1_048_576) body += c.toString("utf8");
        });
        res.once("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.once("error", (err) => resolve({ error: err.message }));
        res.once("close", () => resolve({ error: "closed before the end of the body" }));
      });
    });
    this.req.setTimeout(options.timeoutMs, () => this.req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
    this.req.end(options.body);
  }

  end(): void {
    this.req.destroy();
  }

  kill(): void {
    this.req.destroy();
  }
}

// ---------------------------------------------------------------------------------------------------
// The record of what was sent, for failure messages

class Recorder {
  private readonly entries: Array<{ at: number; text: string }> = [];
  sent = 0;
  constructor(private readonly keep: number) {}
  add(task: number, kind: string, note: string, data?: string | Buffer): void {
    this.sent++;
    this.entries.push({ at: Date.now(), text: `#${task} ${kind}: ${note}${data !== undefined ? ` | ${preview(data)}` : ""}` });
    if (this.entries.length > this.keep) this.entries.shift();
  }
  last(): string {
    return this.entries.map((e) => e.text).join("\n");
  }
  /** The inputs recorded since `at` (epoch ms) that are still kept. */
  since(at: number): string {
    return this.entries
      .filter((e) => e.at >= at)
      .map((e) => `  ${e.text.slice(0, 300)}`)
      .join("\n");
  }
}

// ---------------------------------------------------------------------------------------------------

const pool = new SocketPool(MAX_OPEN_SOCKETS);
const recorder = new Recorder(VERBOSE ? 400 : 40);

describe(`relay fuzz (seed ${SEED}, budget ${BUDGET_MS} ms, RSS < ${RSS_LIMIT_MIB} MiB)`, () => {
  let node: NodeProcess;
  let metricsPort = 0;
  const keys = { fuzzer: "", victim: "", checker: "" };
  let cookie = "";
  let ownCli: LegacyCli;
  let victimCli: LegacyCli;
  let runnerA: LegacyClient;
  let runnerB: LegacyClient;
  let victimRunner: LegacyClient;
  const setupClients: LegacyClient[] = [];
  let ids: FuzzIds;
  let hk: HandshakeKeys;
  let peakRssMiB = 0;
  let startRssMiB = 0;
  let tasksRun = 0;
  let taskTimeouts = 0;
  let lastBatch: string[] = [];
  /** Why the fuzz test failed, if it did: the tests after it then fail at once instead of timing out on a broken relay. */
  let broken: string | null = null;
  const taskKinds = new Map<string, number>();
  /** Relay log lines at level error/fatal, and stderr (stack traces), as they appeared. */
  const relayErrors: string[] = [];
  const internalAnswers: string[] = [];
  let logCursor = 0;
  const logMessages = new Map<string, number>();

  const alive = (): boolean => node.proc.exitCode === null && node.proc.signalCode === null;

  function scanLogs(): void {
    const logs = node.logs;
    for (let i = logCursor; i < logs.length; i++) {
      const line = logs[i] ?? "";
      if (VERBOSE) {
        const msg = /"msg":"([^"]{0,80})/.exec(line)?.[1] ?? "(not json)";
        if (logMessages.size < 500 || logMessages.has(msg)) logMessages.set(msg, (logMessages.get(msg) ?? 0) + 1);
      }
      if (/"level":(50|60)/.test(line) || !line.startsWith("{")) {
        if (relayErrors.length < 100) relayErrors.push(line.length > 4_000 ? `${line.slice(0, 4_000)}…` : line);
      }
    }
    // Keep the test's own memory bounded on long runs: the tail is enough for a report.
    if (logs.length > 2_000) logs.splice(0, logs.length - 500);
    logCursor = logs.length;
  }

  function failure(reason: string): Error {
    scanLogs();
    const replay = `FUZZ_SEED=${SEED} FUZZ_BUDGET_MS=${BUDGET_MS} npx vitest run test/fuzz   (only the last batch: FUZZ_SEED=${SEED} FUZZ_TASKS=${lastBatch.filter((b) => /^\d+$/.test(b)).join(",")})`;
    return new Error(
      [
        `${reason}`,
        `seed ${SEED}; replay: ${replay}`,
        `last inputs sent (newest last):\n${recorder.last()}`,
        `relay errors and stderr:\n${relayErrors.slice(-10).join("\n") || "(none)"}`,
        `relay log tail:\n${node.logs.slice(-15).map((l) => (l.length > 1_500 ? `${l.slice(0, 1_500)}…` : l)).join("\n")}`,
      ].join("\n\n"),
    );
  }

  function rssMiB(): number {
    const status = readFileSync(`/proc/${node.proc.pid}/status`, "utf8");
    const kb = Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1] ?? NaN);
    return kb / 1024;
  }

  async function http(method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
    const scope = new Scope(pool);
    const call = await scope.open(() => new HttpCall(`${method} ${path}`, node.port, { method, path, headers: { ...headers, ...(body !== undefined ? { "content-type": "application/json" } : {}) }, body: body !== undefined ? JSON.stringify(body) : undefined, timeoutMs: 10_000 }));
    const res = await call.response;
    await scope.closeAll(true);
    if ("error" in res) throw new Error(`${method} ${path}: ${res.error}`);
    return res;
  }

  async function healthy(): Promise<string | null> {
    const scope = new Scope(pool);
    const call = await scope.open(() => new HttpCall("healthz", node.port, { method: "GET", path: "/healthz", timeoutMs: HEALTH_TIMEOUT_MS }));
    const res = await call.response;
    await scope.closeAll(true);
    if ("error" in res) return `/healthz: ${res.error}`;
    if (res.status !== 200) return `/healthz answered ${res.status} ${res.body.slice(0, 200)}`;
    return null;
  }

  async function newTerminal(apiKey: string, runnerId: string): Promise<string> {
    const res = await http("POST", "/api/runners/terminal", { "x-api-key": apiKey }, { runnerId, cols: 80, rows: 24 });
    const body = JSON.parse(res.body) as { terminalId?: string };
    if (!body.terminalId) throw new Error(`terminal not created: ${res.status} ${res.body}`);
    return body.terminalId;
  }

  beforeAll(async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "pizzapi-fuzz-"));
    const store = new FileApiKeyStore(dataDir);
    keys.fuzzer = (await store.create({ userId: "fuzzer", userName: "fuzzer" })).key;
    keys.victim = (await store.create({ userId: "victim", userName: "victim" })).key;
    keys.checker = (await store.create({ userId: "checker", userName: "checker" })).key;
    node = await startNode({
      name: "fuzz",
      dataDir,
      env: {
        PIZZAPI_RUNNER_TOKEN: RUNNER_TOKEN,
        PIZZAPI_SHUTDOWN_GRACE_MS: "1000",
        // Fuzzing CLIs come and go by the hundred: their sessions end 1 s after they drop, not 10 s.
        PIZZAPI_CLI_RECONNECT_GRACE_MS: "1000",
        PIZZAPI_METRICS_PORT: "0",
        PIZZAPI_METRICS_HOST: "127.0.0.1",
      },
      nodeArgs: [`--max-old-space-size=${HEAP_LIMIT_MIB}`],
    });
    const metricsLine = await (async () => {
      for (let i = 0; i < 200; i++) {
        const line = node.logs.find((l) => /metrics on port \d+/.test(l));
        if (line) return line;
        await sleep(10);
      }
      throw new Error("the metrics port was not logged");
    })();
    metricsPort = Number(/metrics on port (\d+)/.exec(metricsLine)?.[1]);

    const login = await http("POST", "/api/auth/session", { "x-api-key": keys.fuzzer });
    cookie = String(login.headers["set-cookie"]?.[0] ?? "").split(";")[0] ?? "";

    // The victim: a live session with state, a runner, a terminal.
    victimCli = await legacyCli(node.url, keys.victim, { cwd: "/home/victim/secret" });
    sendLegacyEvents(victimCli, [{ type: "session_active", state: { messages: [], secret: "victim-state" } }], 1);
    const victimRunnerSecret = "victim-runner-secret-0123456789abcdef";
    ({ client: victimRunner } = await legacyRunner(node.url, keys.victim, { runnerId: "victim-runner", runnerSecret: victimRunnerSecret, name: "victim-box", roots: ["/"] }));
    const victimTerminal = await newTerminal(keys.victim, "victim-runner");

    // The fuzzer: a session, runner A (left alone, serves the terminal endpoint), runner B (fuzz
    // connections register as it), a terminal on each, and a session spawned on B.
    ownCli = await legacyCli(node.url, keys.fuzzer);
    const secretA = "fuzz-runner-a-secret-0123456789abcdef";
    const secretB = "fuzz-runner-b-secret-0123456789abcdef";
    ({ client: runnerA } = await legacyRunner(node.url, keys.fuzzer, { runnerId: "fuzz-runner-a", runnerSecret: secretA, name: "a", roots: ["/"] }));
    ({ client: runnerB } = await legacyRunner(node.url, keys.fuzzer, { runnerId: "fuzz-runner-b", runnerSecret: secretB, name: "b", roots: ["/"], skills: [{ name: "s1", description: "d", filePath: "/x" }] }));
    const terminalA = await newTerminal(keys.fuzzer, "fuzz-runner-a");
    const terminalB = await newTerminal(keys.fuzzer, "fuzz-runner-b");
    const spawning = http("POST", "/api/runners/spawn", { "x-api-key": keys.fuzzer }, { runnerId: "fuzz-runner-b", cwd: "/tmp" });
    const [newSession] = await runnerB.next("new_session");
    runnerB.send({ type: "session_ready", runnerId: "fuzz-runner-b", sessionId: newSession?.sessionId });
    const spawned = JSON.parse((await spawning).body) as { sessionId?: string };
    setupClients.push(victimCli.client, victimRunner, ownCli.client, runnerA, runnerB);

    ids = {
      own: {
        sessionId: ownCli.sessionId,
        token: ownCli.token,
        runnerId: "fuzz-runner-a",
        runnerSecret: secretA,
        terminalId: terminalA,
        spawnedSessionId: spawned.sessionId ?? null,
        fuzzRunnerId: "fuzz-runner-b",
        fuzzRunnerSecret: secretB,
        fuzzTerminalId: terminalB,
      },
      victim: { sessionId: victimCli.sessionId, token: victimCli.token, runnerId: "victim-runner", runnerSecret: victimRunnerSecret, terminalId: victimTerminal },
      conn: { sessionId: null, token: null, runnerId: null },
      requestIds: [],
    };
    hk = { apiKey: keys.fuzzer, runnerToken: RUNNER_TOKEN };
    startRssMiB = rssMiB();
  }, 60_000);

  afterAll(async () => {
    for (const c of setupClients) c.close();
    await Promise.race([Promise.all(setupClients.map((c) => c.until(() => c.closed !== null, "close", 3_000).catch(() => undefined))), sleep(3_000)]);
    for (const c of setupClients) c.ws.terminate();
    for (const r of pool.live) r.kill();
    if (relayErrors.length > 0 || internalAnswers.length > 0) {
      console.warn(`fuzz seed ${SEED}: the relay logged ${relayErrors.length} error line(s) and answered ${internalAnswers.length} input(s) with an internal error:\n${[...internalAnswers.slice(0, 10), ...relayErrors.slice(0, 10)].join("\n")}`);
    }
    if (!node) return;
    // A relay that hangs does not act on SIGTERM: it gets SIGKILL after 5 s.
    await Promise.race([node.stop(), sleep(5_000)]);
    if (alive()) await node.kill();
  }, 30_000);

  it("covers every client event the protocol defines", () => {
    for (const nsp of NAMESPACES) expect(Object.keys(CLIENT_EVENTS[nsp]).sort(), nsp).toEqual(Object.keys(CLIENT_SCHEMAS[nsp]).sort());
    expect(LEGACY_ENDPOINTS.map((e) => legacyTypes(e).length)).toEqual([4, 5, 14, 3, 0]);
  });

  // -------------------------------------------------------------------------------------------------
  // Tasks. Each gets its own Rng (seed, index): its input does not depend on the tasks around it.

  interface Task {
    index: number;
    kind: string;
    rng: Rng;
    scope: Scope;
    ids: FuzzIds;
  }

  const wsBase = (): string => node.url.replace(/^http/, "ws");

  function send(t: Task, conn: WsConn, w: Wire): void {
    recorder.add(t.index, t.kind, w.note, w.data);
    conn.raw(w.data, w.binary);
  }

  /** Notes requests and spawned sessions a runner connection is sent, so later frames can answer them. */
  function learnFromRunner(m: string): void {
    const requestId = /"requestId":"([^"]{1,64})"/.exec(m)?.[1];
    if (requestId && !ids.requestIds.includes(requestId)) {
      ids.requestIds.push(requestId);
      if (ids.requestIds.length > 20) ids.requestIds.shift();
    }
  }

  /** Fires a REST call at the fuzz runner (a spawn or a skill request) that its connection then answers (or not). */
  async function restAtRunner(t: Task): Promise<void> {
    const call = t.rng.weighted<() => { method: string; path: string; body?: unknown }>([
      [50, () => ({ method: "POST", path: "/api/runners/spawn", body: { runnerId: ids.own.fuzzRunnerId, cwd: t.rng.pick(["/tmp", "/", "/nope"]) } })],
      [50, () => ({ method: "GET", path: `/api/runners/${ids.own.fuzzRunnerId}/skills/${t.rng.pick(["s1", "nope", "__proto__"])}` })],
    ])();
    recorder.add(t.index, t.kind, `REST ${call.method} ${call.path}`);
    const body = call.body !== undefined ? JSON.stringify(call.body) : undefined;
    await t.scope.open(() => new HttpCall(`REST ${call.path}`, node.port, { method: call.method, path: call.path, headers: { "x-api-key": keys.fuzzer, ...(body ? { "content-type": "application/json" } : {}) }, body, timeoutMs: 5_000 }));
  }

  /** (b) A legacy connection with valid credentials and ids, then generated frames. */
  async function legacyTask(t: Task, endpoint: LegacyEndpoint): Promise<void> {
    const { rng } = t;
    const headers: Record<string, string> = {};
    const cred = endpoint === "runner" ? rng.weighted([[85, "key"], [15, "bearer"]] as const) : endpoint === "cli" ? "key" : rng.weighted([[70, "key"], [30, "cookie"]] as const);
    if (cred === "key") headers["x-api-key"] = keys.fuzzer;
    if (cred === "cookie") headers.cookie = cookie;
    if (cred === "bearer") headers.authorization = `Bearer ${RUNNER_TOKEN}`;
    const pathId = (own: string, other: string, victim: string): string =>
      rng.weighted<() => string>([
        [55, () => own],
        [12, () => other],
        [15, () => victim],
        [8, () => rng.uuid()],
        [4, () => "x".repeat(10_240)],
        [6, () => encodeURIComponent(rng.pick(["a/b", "..", "__proto__", " ", "%00"]))],
      ])();
    const path =
      endpoint === "cli"
        ? "/ws/sessions"
        : endpoint === "runner"
          ? "/ws/runner"
          : endpoint === "hub"
            ? "/ws/hub"
            : endpoint === "viewer"
              ? `/ws/sessions/${pathId(ids.own.sessionId, ids.own.spawnedSessionId ?? ids.own.sessionId, ids.victim.sessionId)}`
              : `/ws/terminal/${pathId(ids.own.terminalId, ids.own.fuzzTerminalId ?? ids.own.terminalId, ids.victim.terminalId)}`;
    recorder.add(t.index, t.kind, `open ${path.slice(0, 80)} (${cred})`);
    const conn = await t.scope.open(() => new WsConn(t.kind, `${wsBase()}${path}`, headers, false, endpoint === "runner" ? learnFromRunner : undefined));
    const opened = await conn.opened;
    if (!opened.ok) return;
    if (endpoint === "cli" && rng.chance(0.9)) {
      const notes: string[] = [];
      const register = rng.chance(0.7)
        ? { type: "register", sessionId: rng.weighted<() => string | undefined>([[40, () => undefined], [35, () => ids.own.sessionId], [15, () => ids.victim.sessionId], [10, () => rng.uuid()]])(), cwd: "/home/fuzzer", collabMode: rng.chance(0.9), sessionName: null }
        : { type: "register", ...payloadFor(rng, CLIENT_EVENTS["/relay"].register ?? {}, t.ids, notes) };
      send(t, conn, { data: JSON.stringify(register), binary: false, note: `register ${notes.join(" ")}` });
      const reply = await conn.waitFor((m) => m.includes('"type":"registered"') || m.includes('"type":"error"'), 1_500);
      if (reply?.includes('"registered"')) {
        const r = JSON.parse(reply) as { sessionId?: string; token?: string };
        t.ids.conn.sessionId = r.sessionId ?? null;
        t.ids.conn.token = r.token ?? null;
      }
    }
    if (endpoint === "runner" && rng.chance(0.85)) {
      const notes: string[] = [];
      const register = rng.chance(0.6)
        ? { type: "register_runner", runnerId: ids.own.fuzzRunnerId, runnerSecret: ids.own.fuzzRunnerSecret, name: "b", roots: ["/"] }
        : { type: "register_runner", ...payloadFor(rng, CLIENT_EVENTS["/runner"].register_runner ?? {}, t.ids, notes) };
      send(t, conn, { data: JSON.stringify(register), binary: false, note: `register_runner ${notes.join(" ")}` });
      const reply = await conn.waitFor((m) => m.includes('"type":"runner_registered"') || m.includes('"type":"error"'), 1_500);
      if (reply?.includes("runner_registered")) t.ids.conn.runnerId = (JSON.parse(reply) as { runnerId?: string }).runnerId ?? null;
      if (t.ids.conn.runnerId === ids.own.fuzzRunnerId && rng.chance(0.3)) await restAtRunner(t);
    }
    const frames = rng.between(1, 25);
    for (let i = 0; i < frames && !conn.isClosed; i++) {
      send(t, conn, legacyFrame(rng, endpoint, t.ids));
      if (rng.chance(0.15)) await sleep(rng.int(30));
    }
    await conn.waitClosed(rng.between(20, 250));
  }

  /** (b) A Socket.IO connection with a valid CONNECT, then generated packets. */
  async function sioTask(t: Task, nsp: Namespace): Promise<void> {
    const { rng } = t;
    const { auth, note } = validAuth(rng, nsp, t.ids, hk);
    const headers: Record<string, string> = {};
    if ((nsp === "/viewer" || nsp === "/hub" || nsp === "/terminal") && rng.chance(0.25)) {
      delete auth.apiKey;
      headers.cookie = cookie;
    }
    const conn = await t.scope.open(() => new WsConn(t.kind, `${wsBase()}/socket.io/?EIO=4&transport=websocket`, headers, true, nsp === "/runner" ? learnFromRunner : undefined));
    if (!(await conn.opened).ok || (await conn.waitFor((m) => m.startsWith("0{"), 2_000)) === null) return;
    send(t, conn, { data: `40${nsp},${JSON.stringify(auth)}`, binary: false, note: `CONNECT ${note}` });
    const reply = await conn.waitFor((m) => m.startsWith(`40${nsp},`) || m.startsWith(`44${nsp},`), 2_000);
    if (reply === null || (reply.startsWith("44") && rng.chance(0.7))) return;
    if (nsp === "/relay" && rng.chance(0.85)) {
      const notes: string[] = [];
      const payload = rng.chance(0.7)
        ? { sessionId: rng.weighted<() => string | undefined>([[40, () => undefined], [35, () => ids.own.sessionId], [15, () => ids.victim.sessionId], [10, () => rng.uuid()]])(), cwd: "/home/fuzzer", ...(rng.chance(0.5) ? { streamId: rng.hex(16) } : {}) }
        : payloadFor(rng, CLIENT_EVENTS["/relay"].register ?? {}, t.ids, notes);
      send(t, conn, { data: `42/relay,900${JSON.stringify(["register", payload])}`, binary: false, note: `register ${notes.join(" ")}` });
      const ack = await conn.waitFor((m) => m.startsWith("43/relay,900["), 1_500);
      if (ack) {
        const [r] = JSON.parse(ack.slice("43/relay,900".length)) as Array<{ ok?: boolean; sessionId?: string; token?: string }>;
        if (r?.ok) {
          t.ids.conn.sessionId = r.sessionId ?? null;
          t.ids.conn.token = r.token ?? null;
        }
      }
    }
    if (nsp === "/runner" && rng.chance(0.85)) {
      const payload = { runnerId: auth.runnerId, runnerSecret: auth.runnerSecret, name: "sio", roots: ["/"] };
      send(t, conn, { data: `42/runner,900${JSON.stringify(["register_runner", payload])}`, binary: false, note: "register_runner" });
      const ack = await conn.waitFor((m) => m.startsWith("43/runner,900["), 1_500);
      if (ack) {
        const [r] = JSON.parse(ack.slice("43/runner,900".length)) as Array<{ ok?: boolean; runnerId?: string }>;
        if (r?.ok) t.ids.conn.runnerId = r.runnerId ?? null;
      }
      if (t.ids.conn.runnerId === ids.own.fuzzRunnerId && rng.chance(0.3)) await restAtRunner(t);
    }
    const packets = rng.between(1, 25);
    for (let i = 0; i < packets && !conn.isClosed; i++) {
      for (const w of sioFrames(rng, nsp, t.ids, () => validAuth(rng, nsp, t.ids, hk).auth)) send(t, conn, w);
      if (rng.chance(0.15)) await sleep(rng.int(30));
    }
    await conn.waitClosed(rng.between(20, 250));
  }

  /** (a) Raw HTTP: garbage request lines, paths and headers, upgrades or not, maybe followed by WebSocket frames. */
  async function rawHttpTask(t: Task): Promise<void> {
    const { rng } = t;
    const { bytes, note } = rawHttpRequest(rng, t.ids, hk, `127.0.0.1:${node.port}`);
    const chunks = rng.chance(0.3) ? rng.between(2, 4) : 1;
    const after = rng.chance(0.3) ? rawWsFrames(rng) : null;
    const wait = rng.between(50, 500);
    recorder.add(t.index, t.kind, `${note}${after ? ` then frames ${after.note}` : ""}`, bytes);
    const conn = await t.scope.open(() => new TcpConn(t.kind, node.port));
    if (!(await conn.connected)) return;
    const size = Math.ceil(bytes.length / chunks);
    for (let i = 0; i < chunks; i++) {
      conn.write(bytes.subarray(i * size, (i + 1) * size));
      if (chunks > 1) await sleep(5);
    }
    if (after) {
      await conn.until(() => conn.received.includes("\r\n\r\n"), wait);
      if (conn.firstLine.startsWith("HTTP/1.1 101")) conn.write(after.bytes);
    }
    await conn.until(() => false, wait);
    if (/^HTTP\/1\.[01] 500/.test(conn.firstLine)) internalAnswers.push(`#${t.index} ${note}: ${conn.firstLine}`);
  }

  /** (a) A `/ws/*` upgrade without or with wrong credentials (refused with a status; if it opens, a few frames). */
  async function badCredentialsTask(t: Task): Promise<void> {
    const { rng } = t;
    const endpoint = rng.pick(LEGACY_ENDPOINTS);
    const { headers, note } = badLegacyCredentials(rng, hk);
    const path = { cli: "/ws/sessions", runner: "/ws/runner", hub: "/ws/hub", viewer: `/ws/sessions/${rng.pick([ids.own.sessionId, ids.victim.sessionId, "", rng.uuid()])}`, terminal: `/ws/terminal/${rng.pick([ids.own.terminalId, ids.victim.terminalId, "", rng.uuid()])}` }[endpoint];
    recorder.add(t.index, t.kind, `upgrade ${path} with ${note}`);
    const conn = await t.scope.open(() => new WsConn(t.kind, `${wsBase()}${path}`, headers, false));
    const opened = await conn.opened;
    if (opened.status === 500) internalAnswers.push(`#${t.index} ${path} ${note}: HTTP 500`);
    if (!opened.ok) return;
    const frames = rng.between(0, 5);
    for (let i = 0; i < frames && !conn.isClosed; i++) send(t, conn, legacyFrame(rng, endpoint, t.ids));
    await conn.waitClosed(rng.between(20, 200));
  }

  /** (a) An engine.io WebSocket handshake (garbage query sometimes), then engine/socket.io garbage, no valid CONNECT. */
  async function engineGarbageTask(t: Task): Promise<void> {
    const { rng } = t;
    const query = engineQuery(rng);
    recorder.add(t.index, t.kind, `engine open ?${query.slice(0, 120)}`);
    const conn = await t.scope.open(() => new WsConn(t.kind, `${wsBase()}/socket.io/?${query}`, {}, true));
    if (!(await conn.opened).ok) return;
    if (rng.chance(0.8)) await conn.waitFor((m) => m.startsWith("0{"), 1_000);
    const n = rng.between(1, 10);
    for (let i = 0; i < n && !conn.isClosed; i++) for (const w of engineGarbage(rng, t.ids, hk)) send(t, conn, w);
    await conn.waitClosed(rng.between(20, 250));
  }

  /** (a) Namespace CONNECTs with garbage auth (then a few events, connected or not). */
  async function connectGarbageTask(t: Task): Promise<void> {
    const { rng } = t;
    const headers: Record<string, string> = rng.chance(0.15) ? { cookie: rng.pick([cookie, "pizzapi_session=nope"]), origin: rng.pick(["http://evil.example", "http://relay.test"]) } : {};
    const conn = await t.scope.open(() => new WsConn(t.kind, `${wsBase()}/socket.io/?EIO=4&transport=websocket`, headers, true));
    if (!(await conn.opened).ok || (await conn.waitFor((m) => m.startsWith("0{"), 2_000)) === null) return;
    const attempts = rng.between(1, 3);
    for (let i = 0; i < attempts && !conn.isClosed; i++) {
      const { wire: w, nsp } = sioConnectGarbage(rng, t.ids, hk);
      send(t, conn, w);
      const reply = await conn.waitFor((m) => m.startsWith(`40${nsp === "/" ? "" : nsp}`) || m.startsWith(`44${nsp === "/" ? "" : nsp}`), rng.between(100, 800));
      if (reply?.includes('"code":"internal"')) internalAnswers.push(`#${t.index} ${w.note}: ${reply.slice(0, 300)}`);
      if (rng.chance(0.4) && NAMESPACES.includes(nsp as Namespace)) {
        for (let j = rng.between(1, 4); j > 0 && !conn.isClosed; j--) send(t, conn, sioEvent(rng, nsp as Namespace, t.ids));
      }
    }
    await conn.waitClosed(rng.between(20, 200));
  }

  /** (a) Engine.io long-polling: a handshake, garbage POSTs, and a close packet. */
  async function pollingTask(t: Task): Promise<void> {
    const { rng } = t;
    const base = "/socket.io/?EIO=4&transport=polling";
    const query = rng.chance(0.8) ? base : `/socket.io/?${engineQuery(rng).replace("websocket", "polling")}`;
    recorder.add(t.index, t.kind, `polling handshake ${query.slice(0, 120)}`);
    const hs = await t.scope.open(() => new HttpCall(t.kind, node.port, { method: "GET", path: query, timeoutMs: 2_000 }));
    const res = await hs.response;
    const sid = "error" in res ? null : (/"sid":"([^"]+)"/.exec(res.body)?.[1] ?? null);
    const target = sid && rng.chance(0.85) ? sid : rng.pick(["", "nope", "x".repeat(2_000), "__proto__"]);
    const posts = rng.between(1, 4);
    for (let i = 0; i < posts; i++) {
      const { body, note } = pollingPayload(rng, t.ids, hk);
      recorder.add(t.index, t.kind, `POST sid=${target.slice(0, 24)} ${note}`, body);
      const headers = { "content-type": rng.pick(["text/plain;charset=UTF-8", "application/octet-stream", "application/json", "x/y"]) };
      // engine.io 6.6 (seen on 6.6.4) never answers a POST of Content-Type application/octet-stream on EIO=4 (it closes
      // the session and leaves the request open): do not wait long for that one.
      const timeoutMs = headers["content-type"] === "application/octet-stream" ? 300 : 2_000;
      const post = await t.scope.open(() => new HttpCall(t.kind, node.port, { method: "POST", path: `${base}&sid=${encodeURIComponent(target)}`, headers, body, timeoutMs }));
      const answer = await post.response;
      if (!("error" in answer) && answer.status >= 500) internalAnswers.push(`#${t.index} polling ${note}: HTTP ${answer.status}`);
    }
    if (sid && rng.chance(0.5)) {
      // A GET long-polls until something is queued: cut it short.
      const get = await t.scope.open(() => new HttpCall(t.kind, node.port, { method: "GET", path: `${base}&sid=${sid}`, timeoutMs: 300 }));
      await get.response;
    }
    if (sid) {
      const close = await t.scope.open(() => new HttpCall(t.kind, node.port, { method: "POST", path: `${base}&sid=${sid}`, headers: { "content-type": "text/plain;charset=UTF-8" }, body: "1", timeoutMs: 2_000 }));
      await close.response;
    }
  }

  /** (b) A valid upgrade (legacy endpoint with the fuzzer's key, or engine.io), then raw malformed WebSocket frames. */
  async function rawFramesTask(t: Task): Promise<void> {
    const { rng } = t;
    const path = rng.pick(["/ws/sessions", "/ws/runner", "/ws/hub", `/ws/sessions/${ids.own.sessionId}`, `/ws/terminal/${ids.own.terminalId}`, "/socket.io/?EIO=4&transport=websocket"]);
    const frames = rawWsFrames(rng);
    recorder.add(t.index, t.kind, `upgrade ${path} then ${frames.note}`, frames.bytes);
    const conn = await t.scope.open(() => new TcpConn(t.kind, node.port));
    if (!(await conn.connected)) return;
    conn.write(Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${node.port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nx-api-key: ${keys.fuzzer}\r\n\r\n`));
    await conn.until(() => conn.received.includes("\r\n\r\n"), 2_000);
    if (!conn.firstLine.startsWith("HTTP/1.1 101")) return;
    conn.write(frames.bytes);
    await conn.until(() => false, rng.between(50, 400));
  }

  const TASKS: ReadonlyArray<readonly [number, string, (t: Task) => Promise<void>]> = [
    [10, "raw-http", rawHttpTask],
    [7, "bad-credentials", badCredentialsTask],
    [6, "engine-garbage", engineGarbageTask],
    [4, "polling", pollingTask],
    [9, "connect-garbage", connectGarbageTask],
    [9, "legacy cli", (t) => legacyTask(t, "cli")],
    [7, "legacy viewer", (t) => legacyTask(t, "viewer")],
    [7, "legacy runner", (t) => legacyTask(t, "runner")],
    [4, "legacy terminal", (t) => legacyTask(t, "terminal")],
    [3, "legacy hub", (t) => legacyTask(t, "hub")],
    [8, "sio /relay", (t) => sioTask(t, "/relay")],
    [6, "sio /viewer", (t) => sioTask(t, "/viewer")],
    [6, "sio /runner", (t) => sioTask(t, "/runner")],
    [4, "sio /terminal", (t) => sioTask(t, "/terminal")],
    [2, "sio /hub", (t) => sioTask(t, "/hub")],
    [5, "raw-ws-frames", rawFramesTask],
  ];

  /**
   * The regression corpus: inputs this fuzzer found that broke the relay, minimised, replayed before the
   * random ones on every run so that a fix is checked for good (FUZZ_SKIP_REGRESSIONS=1 skips them, to
   * explore past one that is not fixed yet). Each names the run that found it.
   */
  const REGRESSIONS: ReadonlyArray<{ name: string; found: string; run: (t: Task) => Promise<void> }> = [
    {
      // bridge/connection.ts closeForError() trims the reason of every `error` it passes to a legacy client
      // one UTF-16 unit at a time, re-measuring the whole string each time (quadratic): the runner's
      // `error {message: "Unknown session: <id>"}` for a 1 MiB id blocks the event loop for minutes.
      name: "legacy runner frame naming a 1 MiB session id",
      found: "seed 20240613, task 1003 (FUZZ_BUDGET_MS=120000): runner_session_event with a 1 MiB sessionId",
      run: async (t) => {
        const conn = await t.scope.open(() => new WsConn(t.kind, `${wsBase()}/ws/runner`, { "x-api-key": keys.fuzzer }, false));
        if (!(await conn.opened).ok) return;
        send(t, conn, { data: JSON.stringify({ type: "session_ready", sessionId: "a".repeat(1 << 20) }), binary: false, note: "session_ready naming a 1 MiB sessionId (answered error \"Unknown session: <id>\")" });
        await conn.waitFor((m) => m.includes('"type":"error"'), 1_000);
      },
    },
  ];

  async function runTask(index: number, fixed?: { kind: string; run: (t: Task) => Promise<void> }): Promise<void> {
    const rng = new Rng(deriveSeed(SEED, index));
    const [, kind, run] = fixed ? [0, fixed.kind, fixed.run] : rng.weighted(TASKS.map((entry) => [entry[0], entry] as const));
    const scope = new Scope(pool);
    const task: Task = { index, kind, rng, scope, ids: { ...ids, conn: { sessionId: null, token: null, runnerId: null } } };
    taskKinds.set(kind, (taskKinds.get(kind) ?? 0) + 1);
    const t0 = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), TASK_TIMEOUT_MS)));
    try {
      const outcome = await Promise.race([run(task).then(() => "done" as const), timedOut]);
      if (outcome === "timeout") taskTimeouts++;
    } catch (err) {
      // A client that cannot even be built for an input (ws refuses some URLs and headers) is not a relay matter.
      recorder.add(index, kind, `client error: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      clearTimeout(timer);
      tasksRun++;
      await scope.closeAll(rng.chance(0.9));
      if (VERBOSE && Date.now() - t0 > 600) console.log(`slow task #${index} ${kind}: ${Date.now() - t0} ms`);
    }
  }

  let lastRefresh = Date.now();
  /** Keeps the fixtures alive on long runs: heartbeats for both sessions, fresh terminals (unspawned ones expire after 60 s). */
  async function refreshFixtures(): Promise<void> {
    for (const c of setupClients) c.frames.splice(0);
    if (Date.now() - lastRefresh < 20_000) return;
    lastRefresh = Date.now();
    victimCli.client.send({ type: "event", sessionId: victimCli.sessionId, token: victimCli.token, event: { type: "heartbeat", active: false } });
    ownCli.client.send({ type: "event", sessionId: ownCli.sessionId, token: ownCli.token, event: { type: "heartbeat", active: false } });
    ids.victim.terminalId = await newTerminal(keys.victim, "victim-runner");
    ids.own.terminalId = await newTerminal(keys.fuzzer, "fuzz-runner-a").catch(() => ids.own.terminalId);
  }

  /**
   * Probes /healthz every 250 ms while the fuzz runs: the relay's worst response time, and a hang as soon
   * as one probe goes unanswered for HEALTH_TIMEOUT_MS (not only between batches).
   */
  const probe = { running: false, maxMs: 0, failure: null as string | null, done: Promise.resolve() };
  function startProbe(): void {
    probe.running = true;
    probe.done = (async () => {
      while (probe.running) {
        const t0 = Date.now();
        const unhealthy = await healthy();
        const ms = Date.now() - t0;
        probe.maxMs = Math.max(probe.maxMs, ms);
        if (VERBOSE && ms > 500) console.log(`/healthz took ${ms} ms; inputs sent meanwhile:\n${recorder.since(t0 - 300)}`);
        if (unhealthy && probe.failure === null) probe.failure = `${unhealthy} (alive: ${alive()})`;
        await sleep(250);
      }
    })();
  }

  async function afterBatch(batch: string[]): Promise<void> {
    if (probe.failure) throw failure(`the relay did not answer /healthz within ${HEALTH_TIMEOUT_MS} ms while tasks ${batch.join(",")} ran: ${probe.failure}`);
    if (!alive()) {
      const heap = node.logs.some((l) => l.includes("heap limit")) ? `: its heap outgrew the ${HEAP_LIMIT_MIB} MiB cap (retained memory)` : "";
      throw failure(`the relay process exited (code ${node.proc.exitCode}, signal ${node.proc.signalCode})${heap} during tasks ${batch.join(",")}`);
    }
    const rss = rssMiB();
    peakRssMiB = Math.max(peakRssMiB, rss);
    if (rss > RSS_LIMIT_MIB) throw failure(`the relay's RSS is ${rss.toFixed(0)} MiB, over the ${RSS_LIMIT_MIB} MiB bound, after tasks ${batch.join(",")}`);
    const unhealthy = await healthy();
    if (unhealthy) throw failure(`the relay did not answer /healthz within ${HEALTH_TIMEOUT_MS} ms after tasks ${batch.join(",")}: ${unhealthy} (alive: ${alive()})`);
    scanLogs();
    if (pool.peak > MAX_OPEN_SOCKETS) throw failure(`the test held ${pool.peak} sockets open at once (cap ${MAX_OPEN_SOCKETS})`);
    await refreshFixtures();
  }

  it(
    `survives ${BUDGET_MS} ms of seeded hostile input (seed ${SEED}) with RSS under ${RSS_LIMIT_MIB} MiB and /healthz answering`,
    async () => {
      const started = Date.now();
      let next = 0;
      startProbe();
      try {
        if (process.env.FUZZ_SKIP_REGRESSIONS !== "1") {
          for (const [i, regression] of REGRESSIONS.entries()) {
            lastBatch = [`regression "${regression.name}" (found with ${regression.found})`];
            await runTask(-1 - i, { kind: `regression: ${regression.name}`, run: regression.run });
            await afterBatch(lastBatch);
          }
        }
        const only = ONLY_TASKS.length > 0 ? [ONLY_TASKS] : null;
        for (;;) {
          let batch: number[];
          if (only) {
            const b = only.shift();
            if (!b) break;
            batch = b;
          } else {
            if (Date.now() - started >= BUDGET_MS) break;
            batch = Array.from({ length: CONCURRENCY }, () => next++);
          }
          lastBatch = batch.map(String);
          const b0 = Date.now();
          await Promise.all(batch.map((i) => runTask(i)));
          const b1 = Date.now();
          await afterBatch(lastBatch);
          if (VERBOSE) console.log(`batch ${batch[0]}: tasks ${b1 - b0} ms, checks ${Date.now() - b1} ms, relay RSS ${rssMiB().toFixed(0)} MiB`);
        }
      } catch (err) {
        broken = (err instanceof Error ? err.message : String(err)).split("\n")[0] ?? "failed";
        throw err;
      } finally {
        probe.running = false;
        await probe.done;
      }
      const elapsed = Date.now() - started;
      console.log(
        `fuzz seed ${SEED}: ${tasksRun} tasks, ${recorder.sent} inputs in ${elapsed} ms; relay RSS ${startRssMiB.toFixed(0)} MiB before, peak ${peakRssMiB.toFixed(0)} MiB (bound ${RSS_LIMIT_MIB}, heap cap ${HEAP_LIMIT_MIB}); slowest /healthz ${probe.maxMs} ms; ` +
          `at most ${pool.peak} sockets open; ${taskTimeouts} task(s) cut off by the test; kinds ${JSON.stringify(Object.fromEntries(taskKinds))}`,
      );
      if (VERBOSE) console.log([...logMessages].sort((a, b) => b[1] - a[1]).map(([m, n]) => `${String(n).padStart(7)} ${m}`).join("\n"));
      if (STRICT && (relayErrors.length > 0 || internalAnswers.length > 0)) throw failure(`the relay logged errors or answered internal: ${[...internalAnswers, ...relayErrors].slice(0, 5).join("\n")}`);
    },
    BUDGET_MS + 60_000,
  );

  it("leaves no connection open: the test's own sockets are all closed and the relay counts only the fixtures", async () => {
    expect(pool.live.size, [...pool.live].map((r) => r.what).join(", ")).toBe(0);
    expect(pool.count).toBe(0);
    if (broken) throw new Error(`the relay's side is not checked: the fuzz run failed (${broken})`);
    const fixturesOpen = setupClients.filter((c) => c.closed === null).length;
    let count = -1;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const scope = new Scope(pool);
      const call = await scope.open(() => new HttpCall("metrics", metricsPort, { method: "GET", path: "/metrics", timeoutMs: 5_000 }));
      const answer = await call.response;
      await scope.closeAll(true);
      if (!("error" in answer)) count = Scrape.parse(answer.body).sum("pizzapi_connections");
      if (count === fixturesOpen) break;
      await sleep(200);
    }
    if (count !== fixturesOpen) throw failure(`the relay still counts ${count} connections; the test holds ${fixturesOpen} (its fixtures) open`);
    if (!alive()) throw failure("the relay process exited");
  });

  it("still serves a normal flow: a legacy CLI publishes to a viewer, a Socket.IO CLI registers, /healthz answers, the victim's session is intact", async () => {
    if (broken) throw new Error(`not run: the fuzz run failed (${broken})`);
    if (!alive()) throw failure("the relay process exited");
    try {
      const cli = await legacyCli(node.url, keys.checker);
      const viewer = await LegacyClient.open(node.url, `/ws/sessions/${cli.sessionId}`, { "x-api-key": keys.checker });
      await viewer.next("connected");
      sendLegacyEvents(cli, [{ type: "message_update", text: "after the fuzz" }], 1);
      await viewer.until(() => viewer.typed("event").some((f) => (f.event as { text?: string } | undefined)?.text === "after the fuzz"), "the event after the fuzz");

      const sio = connectCli(node.url, keys.checker);
      await connected(sio);
      const registered = (await sio.timeout(5_000).emitWithAck("register", { cwd: "/home/checker" })) as { ok: boolean; sessionId?: string };
      expect(registered.ok).toBe(true);
      expect(registered.sessionId).toBeTruthy();
      sio.disconnect();

      // The victim's session is still live and still the victim's: its CLI publishes, a new viewer of it sees the event.
      victimCli.client.frames.splice(0);
      sendLegacyEvents(victimCli, [{ type: "message_update", text: "victim after the fuzz" }], 1_000);
      const victimViewer = await LegacyClient.open(node.url, `/ws/sessions/${victimCli.sessionId}`, { "x-api-key": keys.victim });
      const [joined] = await victimViewer.next("connected");
      expect(joined?.replayOnly, "the victim's session is no longer live").toBeUndefined();
      await victimCli.client.until(() => victimCli.client.typed("event_ack").some((a) => a.seq === 1_000), "the victim's event_ack");
      const isState = (f: Record<string, unknown>): boolean => (f.event as { type?: string } | undefined)?.type === "session_active";
      await victimViewer.until(() => victimViewer.typed("event").some(isState), "the victim's snapshot");
      expect(JSON.stringify(victimViewer.typed("event").find(isState)?.event)).toContain("victim-state");

      for (const c of [cli.client, viewer, victimViewer]) c.close();
      await Promise.all([cli.client, viewer, victimViewer].map((c) => c.closedWith()));
      expect(await healthy()).toBeNull();
      expect(alive()).toBe(true);
    } catch (err) {
      throw failure(`the relay no longer serves a normal flow after the fuzz: ${err instanceof Error ? err.message : String(err)}`);
    }
  });
});
