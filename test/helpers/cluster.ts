import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createRedisClient, type RelayRedisClient } from "../../server/adapters.js";
import { createRedisState } from "../../server/state/redis.js";
import type { SharedState } from "../../server/state/types.js";

const ROOT = resolve(import.meta.dirname, "../..");
const BIN = join(ROOT, "bin/pizzapi-relay.js");
const BUN = join(ROOT, "node_modules/.bin/bun");

export type Runtime = "node" | "bun";

/** One relay node as its own process (so a test can kill it), started with the real `pizzapi-relay start`. */
export interface NodeProcess {
  name: string;
  runtime: Runtime;
  url: string;
  port: number;
  proc: ChildProcess;
  logs: string[];
  /** SIGTERM and wait for exit (graceful stop). */
  stop(): Promise<void>;
  /** SIGKILL: the node dies without running any handler. */
  kill(): Promise<void>;
}

/** Without `redisUrl` the node runs in embedded mode (in-memory state, API keys in `dataDir`). */
export async function startNode(options: {
  name: string;
  redisUrl?: string;
  prefix?: string;
  adapter?: string;
  runtime?: Runtime;
  dataDir?: string;
  env?: Record<string, string>;
  /** Options for the node binary itself (Node.js runtime only), e.g. `--max-old-space-size=320`. */
  nodeArgs?: string[];
}): Promise<NodeProcess> {
  const runtime = options.runtime ?? "node";
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? tmpdir(),
    PORT: "0",
    PIZZAPI_HOST: "127.0.0.1",
    PIZZAPI_BASE_URL: "http://relay.test",
    PIZZAPI_REDIS_URL: options.redisUrl ?? "off",
    PIZZAPI_REDIS_PREFIX: options.prefix ?? "pizzapi:relay:",
    PIZZAPI_SIO_ADAPTER: options.adapter ?? "redis-streams",
    PIZZAPI_LOG_LEVEL: "info",
    PIZZAPI_NODE_ID: options.name,
    // No load balancer to wait for in tests: stops move clients at once (a test sets it to drain).
    PIZZAPI_DRAIN_DELAY_MS: "0",
    PIZZAPI_DATA_DIR: options.dataDir ?? mkdtempSync(join(tmpdir(), "pizzapi-node-")),
    ...options.env,
  };
  const proc =
    runtime === "bun"
      ? spawn(BUN, [BIN, "start"], { env, cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] })
      : spawn(process.execPath, [...(options.nodeArgs ?? []), BIN, "start"], { env, cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  const logs: string[] = [];
  const exited = new Promise<void>((done) => proc.once("exit", () => done()));
  const port = await new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`${options.name} did not start:\n${logs.join("\n")}`)), 20_000);
    let buffer = "";
    const onData = (chunk: Buffer): void => {
      buffer += chunk.toString("utf8");
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        logs.push(line);
        const match = /relay listening on port (\d+)/.exec(line);
        if (match) {
          clearTimeout(timer);
          resolvePort(Number(match[1]));
        }
      }
    };
    proc.stdout?.on("data", onData);
    proc.stderr?.on("data", (c: Buffer) => logs.push(c.toString("utf8")));
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${options.name} exited (${code}) before listening:\n${logs.join("\n")}`));
    });
  });
  return {
    name: options.name,
    runtime,
    url: `http://127.0.0.1:${port}`,
    port,
    proc,
    logs,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      await exited;
    },
    kill: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      await exited;
    },
  };
}

/** A handle on the cluster's shared state from the test process (to mint keys, inspect sessions). */
export async function clusterState(redisUrl: string, prefix: string): Promise<{ state: SharedState; client: RelayRedisClient; close(): Promise<void> }> {
  const client: RelayRedisClient = createRedisClient(redisUrl);
  await client.connect();
  return { state: createRedisState({ client, prefix }), client, close: async () => void (await client.close()) };
}

/**
 * Waits until every node's adapter knows all the others (`/readyz` reports `nodes`). The streams
 * adapter learns its peers from heartbeats, so right after a start a node may not count the others yet:
 * cluster presence (hub viewer counts, push suppression) would then look at fewer nodes.
 */
export async function awaitMesh(nodes: NodeProcess[], timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const node of nodes) {
    for (;;) {
      const body = (await (await fetch(`${node.url}/readyz`)).json()) as { nodes?: number | null };
      if (body.nodes === nodes.length) break;
      if (Date.now() > deadline) throw new Error(`${node.name} knows ${body.nodes} nodes, expected ${nodes.length}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
