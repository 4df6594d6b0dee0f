import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./redis.js";

/**
 * Debian's haproxy in front of relay nodes on 127.0.0.1, the load balancer of the fault suite: least
 * connections, HTTP health checks on each node, WebSocket upgrades passed through, a connection attempt
 * to a dead node redispatched to another one. Runs in the foreground (`-db`) as a child of the test
 * process; stop() ends it by its PID.
 */
export interface Haproxy {
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

export interface HaproxyOptions {
  backends: Array<{ name: string; port: number }>;
  /** What haproxy GETs on each backend; anything but 200 counts as a failed check. */
  healthPath?: string;
  /** Milliseconds between two checks of a backend. */
  interMs?: number;
  /** Failed checks in a row that mark a backend DOWN. */
  fall?: number;
  /** Passed checks in a row that mark a backend UP again. */
  rise?: number;
  /**
   * Run this configuration file (deploy/haproxy.cfg) instead of the built-in one: its `bind` lines
   * become 127.0.0.1:<free port>, its `server` lines the given backends (cookie = name), and an admin
   * socket is added; everything else (timeouts, stickiness, checks) is the file's own.
   */
  configFile?: string;
}

const BACKEND = "relays";
const READY_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 3_000;
const STATS_TIMEOUT_MS = 2_000;
/** Enough for ~3000 clients at once: each takes two descriptors (client side and server side). */
const MAXCONN = 5_000;
/** How much of haproxy's stderr is kept for error messages. */
const MAX_OUTPUT = 64 * 1024;
/** sun_path is 108 bytes on Linux. */
const MAX_SOCKET_PATH = 100;

/** Where each running haproxy's admin socket is (the public interface stays small). */
const statsSockets = new WeakMap<Haproxy, string>();

function config(options: HaproxyOptions, port: number, socketPath: string): string {
  const healthPath = options.healthPath ?? "/readyz";
  const interMs = options.interMs ?? 500;
  const fall = options.fall ?? 2;
  const rise = options.rise ?? 2;
  return [
    "global",
    `  maxconn ${MAXCONN}`,
    // haproxy raises its descriptor limit to what maxconn needs (about 2 x maxconn); where the hard
    // limit is lower it only warns instead of refusing to start (strict-limits is on by default).
    "  no strict-limits",
    `  stats socket ${socketPath} level admin`,
    // No `log` lines: nothing goes to syslog; alerts and warnings go to stderr (-db).
    "",
    "defaults",
    "  mode http",
    `  maxconn ${MAXCONN}`,
    "  timeout connect 1s",
    "  timeout client 300s",
    "  timeout server 300s",
    // An upgraded connection (WebSocket) is a tunnel: this timeout applies to it, not client/server.
    "  timeout tunnel 300s",
    "  retries 3",
    "  option redispatch",
    "",
    "frontend fe",
    `  bind 127.0.0.1:${port}`,
    `  default_backend ${BACKEND}`,
    "",
    `backend ${BACKEND}`,
    "  balance leastconn",
    // HTTP/1.1 with a Host header: Node's HTTP server answers a check without one 400 Bad Request.
    "  option httpchk",
    `  http-check send meth GET uri ${healthPath} ver HTTP/1.1 hdr Host 127.0.0.1`,
    "  http-check expect status 200",
    `  default-server inter ${interMs}ms fall ${fall} rise ${rise}`,
    ...options.backends.map((backend) => `  server ${backend.name} 127.0.0.1:${backend.port} check`),
    "",
  ].join("\n");
}

/** A deployment file adapted to the test: local bind, local backends, an admin socket. */
function fromDeployFile(text: string, options: HaproxyOptions, port: number, socketPath: string): string {
  const out: string[] = [];
  let serversWritten = false;
  for (const line of text.split("\n")) {
    const trimmed = line.trim();
    if (/^global\b/.test(trimmed)) {
      out.push(line, "  no strict-limits", `  stats socket ${socketPath} level admin`);
      continue;
    }
    if (/^bind\s/.test(trimmed)) {
      out.push(`  bind 127.0.0.1:${port}`);
      continue;
    }
    if (/^maxconn\s/.test(trimmed)) {
      out.push(`  maxconn ${MAXCONN}`);
      continue;
    }
    if (/^server\s/.test(trimmed)) {
      if (!serversWritten) out.push(...options.backends.map((b) => `  server ${b.name} 127.0.0.1:${b.port} cookie ${b.name}`));
      serversWritten = true;
      continue;
    }
    out.push(line);
  }
  if (!serversWritten) throw new Error("the configuration file has no server line to replace");
  return `${out.join("\n")}\n`;
}

function validate(options: HaproxyOptions): void {
  if (options.backends.length === 0) throw new Error("startHaproxy needs at least one backend");
  const names = new Set<string>();
  for (const { name, port } of options.backends) {
    if (!/^[A-Za-z0-9_.:-]+$/.test(name)) throw new Error(`Invalid haproxy server name: ${JSON.stringify(name)}`);
    if (names.has(name)) throw new Error(`Duplicate haproxy server name: ${name}`);
    names.add(name);
    if (!Number.isInteger(port) || port <= 0 || port > 65_535) throw new Error(`Invalid port for ${name}: ${port}`);
  }
  const healthPath = options.healthPath ?? "/readyz";
  if (!/^\/\S*$/.test(healthPath)) throw new Error(`Invalid health path: ${JSON.stringify(healthPath)}`);
  for (const [key, value] of [
    ["interMs", options.interMs],
    ["fall", options.fall],
    ["rise", options.rise],
  ] as const) {
    if (value !== undefined && (!Number.isInteger(value) || value <= 0)) throw new Error(`Invalid ${key}: ${value}`);
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/** SIGTERM (haproxy's hard stop) to the child's PID, SIGKILL if it is still there after a grace period. */
async function kill(child: ChildProcess): Promise<void> {
  const gone = exited(child);
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
  await gone;
  clearTimeout(timer);
}

/** Whether something accepts a TCP connection on 127.0.0.1:port right now. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 500);
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** Sends one command to haproxy's admin socket and reads the answer until haproxy closes it. */
function adminCommand(socketPath: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    let answer = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`haproxy admin socket: no complete answer to "${command}" after ${STATS_TIMEOUT_MS} ms`));
    }, STATS_TIMEOUT_MS);
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (answer += chunk));
    socket.once("error", (err) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    });
    socket.once("end", () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    });
    socket.once("connect", () => socket.write(`${command}\n`));
  });
}

/** One CSV line of haproxy's `show stat` (fields with a comma come quoted, "" inside for a quote). */
function csvFields(line: string): string[] {
  const fields: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      fields.push(field);
      field = "";
    } else field += c;
  }
  fields.push(field);
  return fields;
}

/** Spawns haproxy on `port`; resolves once it serves (admin socket answers, frontend accepts). */
async function spawnOn(binary: string, cfgPath: string, socketPath: string, port: number): Promise<ChildProcess> {
  const child = spawn(binary, ["-f", cfgPath, "-db"], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const keep = (chunk: string): void => {
    if (output.length < MAX_OUTPUT) output += chunk.slice(0, MAX_OUTPUT - output.length);
  };
  child.stdout?.setEncoding("utf8");
  child.stderr?.setEncoding("utf8");
  // Always read both pipes, so that haproxy never blocks on a full one.
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  let failure: Error | null = null;
  const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
    failure = new Error(`haproxy exited (${code ?? signal}) before it was ready:\n${output}`);
  };
  const onError = (err: Error): void => {
    failure = err;
  };
  child.once("exit", onExit);
  child.once("error", onError);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  try {
    for (;;) {
      // Wait a little first: a port taken by someone else would accept while haproxy fails to bind.
      await new Promise((resolve) => setTimeout(resolve, 50));
      if (failure) throw failure;
      if (Date.now() > deadline) throw new Error(`haproxy not ready after ${READY_TIMEOUT_MS} ms:\n${output}`);
      // The admin socket answers only once every listener is bound, so the port is haproxy's.
      const serving = await adminCommand(socketPath, "show info").then(
        () => true,
        () => false,
      );
      if (serving && (await accepts(port)) && !failure) break;
    }
  } catch (err) {
    if (!failure) await kill(child);
    throw err;
  } finally {
    child.removeListener("exit", onExit);
    child.removeListener("error", onError);
  }
  // Keep draining the pipes; the output is no longer needed.
  child.stdout?.removeAllListeners("data");
  child.stderr?.removeAllListeners("data");
  child.stdout?.resume();
  child.stderr?.resume();
  return child;
}

/**
 * Starts haproxy on a free port of 127.0.0.1 in front of `backends` (each checked with GET
 * `healthPath`); resolves once its frontend accepts connections. Backends start as UP and go DOWN
 * after `fall` failed checks: use backendStates() to wait for a state.
 */
export async function startHaproxy(options: HaproxyOptions): Promise<Haproxy> {
  validate(options);
  const binary = existsSync("/usr/sbin/haproxy") ? "/usr/sbin/haproxy" : "haproxy";
  let base = tmpdir();
  if (join(base, "haproxy-XXXXXX", "admin.sock").length > MAX_SOCKET_PATH) base = "/tmp";
  const dir = await mkdtemp(join(base, "haproxy-"));
  const cfgPath = join(dir, "haproxy.cfg");
  const socketPath = join(dir, "admin.sock");
  let lastError: unknown;
  // The port may be taken between probing and binding: try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    let child: ChildProcess;
    try {
      await writeFile(cfgPath, options.configFile ? fromDeployFile(await readFile(options.configFile, "utf8"), options, port, socketPath) : config(options, port, socketPath));
      child = await spawnOn(binary, cfgPath, socketPath, port);
    } catch (err) {
      lastError = err;
      await rm(socketPath, { force: true });
      continue;
    }
    const pid = child.pid;
    if (pid === undefined) {
      await kill(child);
      lastError = new Error("haproxy started without a PID");
      continue;
    }
    // haproxy never exits on its own: should the test process end without stop(), take it along.
    const killOnExit = (): void => {
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    };
    process.once("exit", killOnExit);
    let stopping: Promise<void> | null = null;
    const haproxy: Haproxy = {
      url: `http://127.0.0.1:${port}`,
      port,
      pid,
      stop: () => {
        stopping ??= (async () => {
          process.removeListener("exit", killOnExit);
          await kill(child);
          await rm(dir, { recursive: true, force: true });
        })();
        return stopping;
      },
    };
    statsSockets.set(haproxy, socketPath);
    return haproxy;
  }
  await rm(dir, { recursive: true, force: true });
  throw lastError instanceof Error ? lastError : new Error("Could not start haproxy");
}

/**
 * The state of each backend server by name, as haproxy's `show stat` has it: "UP", "DOWN", or a
 * transition such as "UP 1/2" (going down) / "DOWN 1/2" (coming up), "MAINT", "no check".
 */
export async function backendStates(h: Haproxy): Promise<Record<string, "UP" | "DOWN" | string>> {
  const socketPath = statsSockets.get(h);
  if (socketPath === undefined) throw new Error("backendStates() needs a Haproxy from startHaproxy()");
  const answer = await adminCommand(socketPath, "show stat");
  const lines = answer.split("\n").filter((line) => line.trim() !== "");
  const header = lines[0];
  if (header === undefined || !header.startsWith("# ")) throw new Error(`Unexpected answer to "show stat":\n${answer}`);
  const columns = csvFields(header.slice(2));
  const px = columns.indexOf("pxname");
  const sv = columns.indexOf("svname");
  const status = columns.indexOf("status");
  if (px < 0 || sv < 0 || status < 0) throw new Error(`"show stat" lacks pxname/svname/status:\n${header}`);
  const states: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const fields = csvFields(line);
    const name = fields[sv];
    if (fields[px] !== BACKEND || name === undefined || name === "BACKEND" || name === "FRONTEND") continue;
    states[name] = fields[status] ?? "";
  }
  return states;
}

/**
 * Puts a backend server in maintenance (no new connections; existing ones stay) or back to ready, through
 * haproxy's admin socket: a test can decide which node its clients land on.
 */
export async function setServerState(h: Haproxy, name: string, state: "maint" | "ready"): Promise<void> {
  const socketPath = statsSockets.get(h);
  if (!socketPath) throw new Error("not a running haproxy of startHaproxy()");
  if (!/^[A-Za-z0-9_.:-]+$/.test(name)) throw new Error(`Invalid haproxy server name: ${JSON.stringify(name)}`);
  const answer = await adminCommand(socketPath, `set server ${BACKEND}/${name} state ${state}`);
  if (answer.trim() !== "") throw new Error(`haproxy refused "set server ${name} state ${state}": ${answer.trim()}`);
}
