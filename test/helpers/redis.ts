import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { randomHex } from "../../server/auth/secrets.js";

export interface TestRedis {
  url: string;
  stop(): Promise<void>;
  /** Starts the server again on the same port after stop() (an outage ends); not for TEST_REDIS_URL. */
  restart(): Promise<void>;
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

/** Spawns redis-server on `port`; resolves once it accepts connections, rejects if it dies first. */
function spawnOn(binary: string, port: number): Promise<ChildProcess> {
  const child = spawn(
    binary,
    ["--save", "", "--appendonly", "no", "--port", String(port), "--bind", "127.0.0.1"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
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
 * A Redis for tests: TEST_REDIS_URL when set (stop() is then a no-op), else a throwaway Debian
 * redis-server on a free port of 127.0.0.1, without persistence.
 */
export async function startRedis(): Promise<TestRedis> {
  const external = process.env.TEST_REDIS_URL?.trim();
  if (external)
    return {
      url: external,
      stop: async () => undefined,
      restart: async () => {
        throw new Error("restart() needs a throwaway redis-server, not TEST_REDIS_URL");
      },
    };
  const binary = existsSync("/usr/bin/redis-server") ? "/usr/bin/redis-server" : "redis-server";
  let lastError: unknown;
  // The port may be taken between probing and binding: try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    let child: ChildProcess;
    try {
      child = await spawnOn(binary, port);
    } catch (err) {
      lastError = err;
      continue;
    }
    let current = child;
    return {
      url: `redis://127.0.0.1:${port}`,
      stop: async () => {
        const gone = exited(current);
        current.kill("SIGTERM");
        const timer = setTimeout(() => current.kill("SIGKILL"), 5_000);
        await gone;
        clearTimeout(timer);
      },
      restart: async () => {
        current = await spawnOn(binary, port);
      },
    };
  }
  throw lastError instanceof Error ? lastError : new Error("Could not start redis-server");
}

/** A key prefix of its own, so tests sharing one Redis never collide. */
export function uniquePrefix(): string {
  return `test:${randomHex(6)}:`;
}
