import { randomBytes } from "node:crypto";
import { clusterState } from "../../test/helpers/cluster.js";
import { backendStates, startHaproxy, type Haproxy } from "../../test/helpers/haproxy.js";
import { TestProxy } from "../../test/helpers/proxy.js";
import { freePort, startRedis, type TestRedis } from "../../test/helpers/redis.js";
import { awaitBenchMesh, benchLogin, startBenchNodeOn, type BenchNode } from "../lib/cluster.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface FaultClusterOptions {
  /** Relay nodes behind the load balancer (3). */
  nodes?: number;
  /** `PIZZAPI_DRAIN_DELAY_MS` of every node: longer than the load balancer takes to mark a node down. */
  drainDelayMs?: number;
  /** Extra environment of every node. */
  env?: Record<string, string>;
  /** Extra arguments of every node's `node` binary (e.g. `--cpu-prof`). */
  nodeArgs?: string[];
  /** Progress lines. */
  log?: (line: string) => void;
}

/** One user of the workload: an API key and a login cookie taken through the load balancer. */
export interface FaultUser {
  userId: string;
  key: string;
  cookie: string;
}

/**
 * The cluster a fault scenario runs against (bench/README.md, "faults.ts"), all on 127.0.0.1:
 *
 * - one redis-server with AOF (`appendfsync always`), so that a Redis restart keeps what was stored;
 * - per relay node, a TCP forwarder between the node and Redis (`cutRedis` partitions that one node);
 * - N relay processes (`bin/pizzapi-relay.js start`, redis-streams adapter) on fixed ports, so that a
 *   restarted node takes its place behind the load balancer again;
 * - haproxy in front (leastconn, health check `GET /readyz` every 500 ms, down after 2 failures, up
 *   after 2 successes, redispatch on a failed connect): every client connects through it.
 */
export class FaultCluster {
  readonly prefix = `fault:${randomBytes(4).toString("hex")}:`;
  nodes: BenchNode[] = [];
  /** Warn and error lines of the nodes that were replaced (the current ones keep theirs). */
  private readonly pastLogs: string[] = [];
  private constructor(
    private readonly options: Required<Omit<FaultClusterOptions, "log">> & { log: (line: string) => void },
    readonly redis: TestRedis,
    readonly redisProxies: TestProxy[],
    readonly ports: number[],
    public lb: Haproxy | null = null,
  ) {}

  static async start(options: FaultClusterOptions = {}): Promise<FaultCluster> {
    const resolved = { nodes: options.nodes ?? 3, drainDelayMs: options.drainDelayMs ?? 2_000, env: options.env ?? {}, nodeArgs: options.nodeArgs ?? [], log: options.log ?? (() => undefined) };
    const redis = await startRedis({ appendonly: true });
    const redisPort = Number(new URL(redis.url).port);
    const proxies: TestProxy[] = [];
    const ports: number[] = [];
    for (let i = 0; i < resolved.nodes; i++) {
      const proxy = new TestProxy(redisPort);
      await proxy.start();
      proxies.push(proxy);
      ports.push(await freePort());
    }
    const cluster = new FaultCluster(resolved, redis, proxies, ports);
    try {
      cluster.nodes = await Promise.all(ports.map((_, i) => cluster.startNode(i)));
      await awaitBenchMesh(cluster.nodes);
      cluster.lb = await startHaproxy({ backends: cluster.nodes.map((n) => ({ name: n.name, port: n.port })) });
      await cluster.awaitBalanced();
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    resolved.log(`cluster: ${resolved.nodes} nodes behind haproxy ${cluster.url}, Redis with AOF on port ${redisPort}`);
    return cluster;
  }

  get url(): string {
    if (!this.lb) throw new Error("the load balancer is not running");
    return this.lb.url;
  }

  private nodeName(i: number): string {
    return String.fromCharCode(65 + i);
  }

  private startNode(i: number): Promise<BenchNode> {
    const proxy = this.redisProxies[i] as TestProxy;
    return startBenchNodeOn(
      {
        name: this.nodeName(i),
        redisUrl: `redis://127.0.0.1:${proxy.port}`,
        prefix: this.prefix,
        env: {
          PIZZAPI_DRAIN_DELAY_MS: String(this.options.drainDelayMs),
          // Room for a large workload of one user per 50 sessions; the limits are not what is measured.
          PIZZAPI_MAX_EVENTS_PER_SECOND: "1000",
          ...this.options.env,
        },
        nodeArgs: this.options.nodeArgs,
      },
      this.ports[i] as number,
    );
  }

  /** Fresh users (keys minted in Redis, logins through the load balancer), one per scenario and 50 sessions. */
  async users(count: number): Promise<FaultUser[]> {
    const shared = await clusterState(this.redis.url, this.prefix);
    try {
      const users: FaultUser[] = [];
      for (let i = 0; i < count; i++) {
        const userId = `fault-${randomBytes(3).toString("hex")}-${i}`;
        const { key } = await shared.state.keys.create({ userId, userName: userId });
        users.push({ userId, key, cookie: await benchLogin(this.url, key) });
      }
      return users;
    } finally {
      await shared.close();
    }
  }

  /** The stored events of a session (seq and event), read from Redis. */
  async sessionLog(sessionId: string): Promise<Array<{ seq: number; event: unknown }>> {
    const shared = await clusterState(this.redis.url, this.prefix);
    try {
      const view = await shared.state.sessions.view(sessionId, 0);
      if (!view?.log?.complete) return [];
      return view.log.events.map((e) => ({ seq: e.seq, event: e.eventJson === undefined ? undefined : (JSON.parse(e.eventJson) as unknown) }));
    } finally {
      await shared.close();
    }
  }

  /** Waits until haproxy counts every node UP. */
  async awaitBalanced(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const states = this.lb ? await backendStates(this.lb).catch(() => ({}) as Record<string, string>) : {};
      if (this.nodes.every((n) => states[n.name] === "UP")) return;
      if (Date.now() > deadline) throw new Error(`haproxy did not mark every node UP: ${JSON.stringify(states)}`);
      await sleep(100);
    }
  }

  /** `kill -9` of node i, then the same node started again in its place. */
  async killNode(i: number): Promise<void> {
    const node = this.nodes[i] as BenchNode;
    this.options.log(`fault: kill -9 node ${node.name}`);
    await node.kill();
    await this.replace(i);
  }

  /** SIGTERM each node in turn (waiting for it to exit and its replacement to be UP), `gapMs` apart. */
  async rollingRestart(gapMs: number): Promise<void> {
    for (let i = 0; i < this.nodes.length; i++) {
      const node = this.nodes[i] as BenchNode;
      this.options.log(`fault: SIGTERM node ${node.name}`);
      const started = Date.now();
      await node.stop();
      this.options.log(`       node ${node.name} exited after ${Date.now() - started} ms`);
      await this.replace(i);
      if (i < this.nodes.length - 1) await sleep(gapMs);
    }
  }

  /** Redis stops (SIGTERM: it writes its AOF) and starts again on the same port and data. */
  async restartRedis(): Promise<void> {
    this.options.log("fault: Redis restart (AOF)");
    await this.redis.stop();
    await this.redis.restart();
    await this.awaitReady();
  }

  /** Node i loses Redis (every connection cut, new ones refused) for `ms`, then gets it back. */
  async cutRedis(i: number, ms: number): Promise<void> {
    const proxy = this.redisProxies[i] as TestProxy;
    this.options.log(`fault: node ${this.nodeName(i)} cut from Redis for ${ms} ms`);
    proxy.cut();
    await sleep(ms);
    proxy.restore();
    await this.awaitReady();
  }

  private async replace(i: number): Promise<void> {
    const old = this.nodes[i] as BenchNode;
    this.pastLogs.push(...old.logs.map((l) => `${old.name}: ${l}`));
    this.nodes[i] = await this.startNode(i);
    await this.awaitReady();
  }

  private async awaitReady(): Promise<void> {
    await awaitBenchMesh(this.nodes, 30_000);
    await this.awaitBalanced();
  }

  /** Warn and error lines of every node so far, replaced ones included. */
  logs(): string[] {
    return [...this.pastLogs, ...this.nodes.flatMap((n) => n.logs.map((l) => `${n.name}: ${l}`))];
  }

  async stop(): Promise<void> {
    await this.lb?.stop().catch(() => undefined);
    await Promise.all(this.nodes.map((n) => n.stop().catch(() => undefined)));
    await Promise.all(this.redisProxies.map((p) => p.stop().catch(() => undefined)));
    await this.redis.dispose().catch(() => undefined);
  }
}

export { sleep };
