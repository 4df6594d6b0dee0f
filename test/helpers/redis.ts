import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomHex } from "../../server/auth/secrets.js";

export interface TestRedis {
  url: string;
  stop(): Promise<void>;
  /** Starts the server again on the same port after stop() (an outage ends); not for TEST_REDIS_URL. */
  restart(): Promise<void>;
  /** stop(), then removes the data directory of an appendonly server; the end of this Redis. */
  dispose(): Promise<void>;
}

export interface TestRedisOptions {
  /**
   * Persist every write (AOF, fsync on each write) in a fresh temporary directory, so that stop()
   * (SIGTERM: Redis writes and exits) and restart() bring the data back. Without it the server keeps
   * nothing on disk.
   */
  appendonly?: boolean;
}

const READY_TIMEOUT_MS = 10_000;

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (address === null || typeof address === "string") {
        server.close();
        reject(new Error("Could not get a free port"));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/**
 * Spawns redis-server on `port` (with an append-only file in `dataDir` when given); resolves once it
 * accepts connections, rejects if it dies first.
 */
function spawnOn(binary: string, port: number, dataDir?: string): Promise<ChildProcess> {
  const persistence =
    dataDir === undefined
      ? ["--save", "", "--appendonly", "no"]
      : ["--appendonly", "yes", "--appendfsync", "always", "--dir", dataDir, "--save", ""];
  const child = spawn(binary, [...persistence, "--port", String(port), "--bind", "127.0.0.1"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  return new Promise((resolve, reject) => {
    let output = "";
    const done = (err?: Error): void => {
      clearTimeout(timer);
      child.stdout?.removeAllListeners("data");
      child.stdout?.resume();
      child.stderr?.resume();
      child.removeListener("exit", onExit);
      child.removeListener("error", onError);
      if (err) {
        child.kill("SIGKILL");
        reject(err);
      } else {
        resolve(child);
      }
    };
    const onExit = (code: number | null): void => done(new Error(`redis-server exited (${code}) before it was ready:\n${output}`));
    const onError = (err: Error): void => done(err);
    const timer = setTimeout(() => done(new Error(`redis-server not ready after ${READY_TIMEOUT_MS} ms:\n${output}`)), READY_TIMEOUT_MS);
    child.once("exit", onExit);
    child.once("error", onError);
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => {
      output += chunk;
      if (output.includes("Ready to accept connections")) done();
    });
  });
}

/**
 * A Redis for tests: TEST_REDIS_URL when set (stop() and dispose() are then no-ops), else a throwaway
 * Debian redis-server on a free port of 127.0.0.1, without persistence unless `appendonly` is set.
 * With TEST_REDIS_URL, `appendonly` is ignored: persistence is then the external server's business.
 */
export async function startRedis(options?: TestRedisOptions): Promise<TestRedis> {
  const external = process.env.TEST_REDIS_URL?.trim();
  if (external)
    return {
      url: external,
      stop: async () => undefined,
      restart: async () => {
        throw new Error("restart() needs a throwaway redis-server, not TEST_REDIS_URL");
      },
      dispose: async () => undefined,
    };
  const binary = existsSync("/usr/bin/redis-server") ? "/usr/bin/redis-server" : "redis-server";
  const dataDir = options?.appendonly ? await mkdtemp(join(tmpdir(), "redis-aof-")) : undefined;
  let lastError: unknown;
  // The port may be taken between probing and binding: try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    let child: ChildProcess;
    try {
      child = await spawnOn(binary, port, dataDir);
    } catch (err) {
      lastError = err;
      continue;
    }
    let current = child;
    const stop = async (): Promise<void> => {
      const gone = exited(current);
      current.kill("SIGTERM");
      const timer = setTimeout(() => current.kill("SIGKILL"), 5_000);
      await gone;
      clearTimeout(timer);
    };
    return {
      url: `redis://127.0.0.1:${port}`,
      stop,
      restart: async () => {
        current = await spawnOn(binary, port, dataDir);
      },
      dispose: async () => {
        await stop();
        if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
      },
    };
  }
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  throw lastError instanceof Error ? lastError : new Error("Could not start redis-server");
}

/** A key prefix of its own, so tests sharing one Redis never collide. */
export function uniquePrefix(): string {
  return `test:${randomHex(6)}:`;
}
