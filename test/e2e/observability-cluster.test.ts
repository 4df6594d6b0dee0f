import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FieldCli, FieldRunner } from "../../clients/generations/index.js";
import { LegacyCliClient } from "../../clients/legacy/cli-client.js";
import { LegacyRunnerClient } from "../../clients/legacy/runner-client.js";
import { RelayClient } from "../../clients/socketio/cli-client.js";
import { GENERATIONS, type Generation } from "../../protocol/index.js";
import { setMode } from "../helpers/admin.js";
import { awaitMesh, clusterState, startNode, type NodeProcess } from "../helpers/cluster.js";
import { connectCli, connectHub, connectViewer, connected, Recorder } from "../helpers/clients.js";
import { LegacyClient } from "../helpers/legacy.js";
import { refusedUpgrade } from "../helpers/legacy-flows.js";
import { login } from "../helpers/relay.js";
import { scrape, type Scrape } from "../helpers/metrics.js";
import { startRedis, uniquePrefix, type TestRedis } from "../helpers/redis.js";
import { waitFor } from "../helpers/wait.js";

/**
 * Observability on three nodes over one Redis (docs/operations.md), with clients of both stacks and every
 * generation: each node's `/metrics` parses with a Prometheus text parser, the connection gauges summed
 * over the nodes equal the clients opened, per generation; counters move as the test publishes and is
 * refused; every connection, refusal and REST call leaves its log line; and no secret of the whole run
 * reaches any node's log.
 */

const METRICS_TOKEN = `metrics-${randomBytes(12).toString("hex")}`;
const RUNNER_TOKEN = `runner-token-${randomBytes(12).toString("hex")}`;
let redis: TestRedis;
let A: NodeProcess, B: NodeProcess, C: NodeProcess;
let metricsPortOfC: number;
let closeState: () => Promise<void>;
let admin: string;
const keys: Record<string, string> = {};
/** Every secret the run handles: none may appear in any log line. */
const secrets: string[] = [METRICS_TOKEN, RUNNER_TOKEN];
const stops: Array<() => void> = [];
const keep = <T>(client: T, stop: (c: T) => void): T => (stops.push(() => stop(client)), client);

beforeAll(async () => {
  redis = await startRedis();
  const prefix = uniquePrefix();
  const env = { PIZZAPI_LOG_LEVEL: "trace", PIZZAPI_CENSUS_FLUSH_MS: "300", PIZZAPI_RUNNER_TOKEN: RUNNER_TOKEN };
  // A and B serve /metrics on the main port behind the token; C on a port of its own.
  [A, B, C] = (await Promise.all([
    startNode({ name: "A", redisUrl: redis.url, prefix, env: { ...env, PIZZAPI_METRICS_TOKEN: METRICS_TOKEN } }),
    startNode({ name: "B", redisUrl: redis.url, prefix, env: { ...env, PIZZAPI_METRICS_TOKEN: METRICS_TOKEN } }),
    startNode({ name: "C", redisUrl: redis.url, prefix, env: { ...env, PIZZAPI_METRICS_PORT: "0", PIZZAPI_METRICS_HOST: "127.0.0.1" } }),
  ])) as [NodeProcess, NodeProcess, NodeProcess];
  await awaitMesh([A, B, C]);
  await waitFor(() => C.logs.some((l) => /metrics on port \d+/.test(l)), "C's metrics port");
  metricsPortOfC = Number(/metrics on port (\d+)/.exec(C.logs.find((l) => /metrics on port/.test(l)) ?? "")?.[1]);
  const shared = await clusterState(redis.url, prefix);
  closeState = shared.close;
  admin = (await shared.state.keys.create({ userId: "ops", userName: "Ops", admin: true })).key;
  for (const user of ["leg", "unv", "v1", "v1a", "cur"]) keys[user] = (await shared.state.keys.create({ userId: user, userName: user })).key;
  secrets.push(admin, ...Object.values(keys));
}, 60_000);
afterAll(async () => {
  for (const stop of stops.splice(0)) stop();
  await Promise.all([A, B, C].map((n) => n?.stop()));
  await closeState?.();
  await redis?.stop();
});

const scrapeNode = (node: NodeProcess): Promise<Scrape> => (node === C ? scrape(`http://127.0.0.1:${metricsPortOfC}/metrics`) : scrape(`${node.url}/metrics`, METRICS_TOKEN));
const scrapeAll = (): Promise<Scrape[]> => Promise.all([A, B, C].map(scrapeNode));
const total = (scrapes: Scrape[], name: string, labels: Record<string, string> = {}): number => scrapes.reduce((sum, s) => sum + s.sum(name, labels), 0);

/** Opens clients of every generation spread over the nodes; returns how many connections each has. */
async function openEveryGeneration(): Promise<Record<Generation, number>> {
  const secret = (): string => {
    const s = randomBytes(16).toString("hex");
    secrets.push(s);
    return s;
  };
  // legacy: a CLI on A, its viewer on B, a hub on C, a runner on A
  const legacyCli = keep(new LegacyCliClient({ relayUrl: A.url, apiKey: keys.leg ?? "", heartbeatMs: 60_000 }), (c) => c.stop());
  legacyCli.start();
  await waitFor(() => legacyCli.registered !== null, "the legacy CLI registered");
  secrets.push(legacyCli.registered?.token ?? "");
  const legCookie = await login(A.url, keys.leg ?? "");
  secrets.push(legCookie.split("=")[1] ?? "");
  const legacyViewer = keep(await LegacyClient.open(B.url, `/ws/sessions/${legacyCli.sessionId}`, { cookie: legCookie }), (c) => c.close());
  await legacyViewer.next("connected");
  const legacyHub = keep(await LegacyClient.open(C.url, "/ws/hub", { cookie: legCookie }), (c) => c.close());
  await legacyHub.next("sessions");
  const legacyRunner = keep(new LegacyRunnerClient({ relayUrl: A.url, apiKey: keys.leg, runnerId: `leg-runner-${secret().slice(0, 6)}`, runnerSecret: secret() }), (r) => r.stop());
  legacyRunner.start();
  await waitFor(() => legacyRunner.runnerId !== null, "the legacy runner registered");

  // socket-unversioned: a CLI on B, a runner on C; socket-v1: a CLI on C, a runner on A; acked: a CLI on A
  const field = async (generation: "socket-unversioned" | "socket-v1" | "socket-v1-acked", node: NodeProcess, key: string): Promise<FieldCli> => {
    const cli = keep(new FieldCli({ url: node.url, apiKey: key, generation, cwd: "/" }).start(), (c) => c.stop());
    await waitFor(() => cli.registered !== null, `the ${generation} CLI registered`);
    secrets.push(cli.registered?.token ?? "");
    return cli;
  };
  await field("socket-unversioned", B, keys.unv ?? "");
  await field("socket-v1", C, keys.v1 ?? "");
  await field("socket-v1-acked", A, keys.v1a ?? "");
  for (const [generation, node, key] of [
    ["socket-unversioned", C, keys.unv],
    ["socket-v1", A, keys.v1],
  ] as const) {
    const runner = keep(new FieldRunner({ url: node.url, apiKey: key ?? "", generation, runnerId: `${generation}-${secret().slice(0, 6)}`, runnerSecret: secret() }).start(), (r) => r.stop());
    await waitFor(() => runner.registrations.length === 1, `the ${generation} runner registered`);
  }
  // An old runner with the shared token (no user).
  const tokenRunner = keep(new LegacyRunnerClient({ relayUrl: B.url, runnerToken: RUNNER_TOKEN }), (r) => r.stop());
  tokenRunner.start();
  await waitFor(() => tokenRunner.runnerId !== null, "the token runner registered");

  // current: a CLI on B, viewers on A and C, a hub on B
  const cur = keep(new RelayClient({ url: B.url, apiKey: keys.cur ?? "", session: { cwd: "/" } }), (c) => c.close());
  cur.start();
  const registered = await new Promise<{ sessionId: string; token: string }>((done) => cur.once("registered", done));
  secrets.push(registered.token);
  const curCookie = await login(C.url, keys.cur ?? "");
  secrets.push(curCookie.split("=")[1] ?? "");
  for (const node of [A, C]) {
    const viewer = keep(connectViewer(node.url, { cookie: curCookie }, registered.sessionId), (v) => v.disconnect());
    await new Recorder(viewer).next("synced");
  }
  const hub = keep(connectHub(B.url, { cookie: curCookie }), (h) => h.disconnect());
  await connected(hub);
  return { legacy: 5, "socket-unversioned": 2, "socket-v1": 2, "socket-v1-acked": 1, current: 4 };
}

describe("metrics and logs across three nodes", () => {
  it("serves /metrics only as configured: the token on the main port, or a port of its own", async () => {
    expect((await fetch(`${A.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${A.url}/metrics`, { headers: { authorization: "Bearer not-the-token" } })).status).toBe(401);
    expect((await fetch(`${C.url}/metrics`)).status).toBe(404);
    const own = await fetch(`http://127.0.0.1:${metricsPortOfC}/metrics`);
    expect(own.status).toBe(200);
    expect(own.headers.get("content-type")).toMatch(/^text\/plain/);
  });

  it("counts connections per generation across the nodes, and moves its counters as clients publish and are refused", async () => {
    const before = await scrapeAll();
    const expected = await openEveryGeneration();
    await waitFor(async () => {
      const now = await scrapeAll();
      return GENERATIONS.every((g) => total(now, "pizzapi_connections", { generation: g }) === expected[g]);
    }, "the connection gauges to match the clients", 10_000);
    const gauges = await scrapeAll();
    for (const g of GENERATIONS) expect(total(gauges, "pizzapi_connections", { generation: g }), g).toBe(expected[g]);
    expect(total(gauges, "pizzapi_connections", { transport: "legacy-ws" })).toBe(expected.legacy);
    expect(total(gauges, "pizzapi_connections", { namespace: "/hub" })).toBe(2);
    for (const s of gauges) {
      for (const name of ["process_cpu_user_seconds_total", "nodejs_heap_size_used_bytes", "pizzapi_redis_up", "pizzapi_cluster_nodes", "pizzapi_generation_mode"]) expect(s.has(name), name).toBe(true);
      expect(s.sum("pizzapi_redis_up")).toBe(2); // state + streams adapter
      expect(s.sum("pizzapi_cluster_nodes")).toBe(3);
      expect(s.sum("pizzapi_generation_mode", { generation: "legacy", mode: "on" })).toBe(1);
    }
    // Handshakes accepted, per generation, grew by at least the connections opened.
    for (const g of GENERATIONS) {
      expect(total(gauges, "pizzapi_handshakes_total", { generation: g, outcome: "accepted" }) - total(before, "pizzapi_handshakes_total", { generation: g, outcome: "accepted" })).toBeGreaterThanOrEqual(expected[g]);
    }
    expect(total(gauges, "pizzapi_events_published_total", { stack: "legacy" })).toBeGreaterThan(total(before, "pizzapi_events_published_total", { stack: "legacy" }));
    expect(total(gauges, "pizzapi_legacy_frames_total", { endpoint: "cli", type: "register", direction: "in" })).toBeGreaterThanOrEqual(1);

    // Refusals: a bad key on the typed stack and on a legacy upgrade, an event the relay does not serve.
    const bad = connectCli(A.url, "0".repeat(64));
    await connected(bad).catch(() => undefined);
    bad.disconnect();
    expect((await refusedUpgrade(B.url, "/ws/sessions", { "x-api-key": "1".repeat(64) })).status).toBe(401);
    const v1 = keep(new FieldCli({ url: C.url, apiKey: keys.v1 ?? "", generation: "socket-v1", cwd: "/" }).start(), (c) => c.stop());
    await waitFor(() => v1.registered !== null, "a v1 CLI registered");
    expect((await v1.emitExtraWithAck("service_announce", {})).reply).toMatchObject({ error: { code: "unknown_event" } });
    const after = await scrapeAll();
    expect(total(after, "pizzapi_refusals_total", { code: "unauthorized", wire: "socketio" }) - total(gauges, "pizzapi_refusals_total", { code: "unauthorized", wire: "socketio" })).toBe(1);
    expect(total(after, "pizzapi_refusals_total", { code: "unauthorized", wire: "legacy" }) - total(gauges, "pizzapi_refusals_total", { code: "unauthorized", wire: "legacy" })).toBe(1);
    expect(total(after, "pizzapi_refusals_total", { code: "unknown_event" }) - total(gauges, "pizzapi_refusals_total", { code: "unknown_event" })).toBe(1);
    expect(total(after, "pizzapi_handshakes_total", { namespace: "/relay", outcome: "unauthorized" }) - total(gauges, "pizzapi_handshakes_total", { namespace: "/relay", outcome: "unauthorized" })).toBe(1);

    // Publishing moves published, acknowledged and delivered, per stack.
    const cur = keep(new RelayClient({ url: B.url, apiKey: keys.cur ?? "", session: { cwd: "/" } }), (c) => c.close());
    cur.start();
    const reg = await new Promise<{ sessionId: string; token: string }>((done) => cur.once("registered", done));
    secrets.push(reg.token);
    const viewer = keep(connectViewer(C.url, { apiKey: keys.cur ?? "" }, reg.sessionId), (v) => v.disconnect());
    const rec = new Recorder(viewer);
    await rec.next("synced");
    for (let i = 0; i < 10; i++) cur.publish({ type: "message_update", n: i });
    await cur.flushed();
    await rec.until((events) => events.filter((e) => e.name === "event").length >= 10, "ten events delivered");
    const published = await scrapeAll();
    expect(total(published, "pizzapi_events_published_total", { stack: "socketio" }) - total(after, "pizzapi_events_published_total", { stack: "socketio" })).toBeGreaterThanOrEqual(10);
    const acks = (scrapes: Scrape[]): number => scrapes.reduce((sum, s) => sum + s.count("pizzapi_publish_ack_seconds", { stack: "socketio" }), 0);
    expect(acks(published) - acks(after)).toBeGreaterThanOrEqual(10);
    // The viewer on C received them: C counts ten deliveries and their publish-to-delivery latency.
    const [, , cBefore] = after as [Scrape, Scrape, Scrape];
    const cAfter = await scrapeNode(C);
    expect(cAfter.sum("pizzapi_events_delivered_total", { stack: "socketio" }) - cBefore.sum("pizzapi_events_delivered_total", { stack: "socketio" })).toBeGreaterThanOrEqual(10);
    expect(cAfter.count("pizzapi_publish_delivery_seconds", { stack: "socketio" }) - cBefore.count("pizzapi_publish_delivery_seconds", { stack: "socketio" })).toBeGreaterThanOrEqual(10);
  });

  it("reports each generation's mode and its change on every node, and counts deprecated connections", async () => {
    await setMode(A.url, admin, "legacy", "warn");
    await waitFor(async () => (await scrapeAll()).every((s) => s.sum("pizzapi_generation_mode", { generation: "legacy", mode: "warn" }) === 1), "warn on every node", 5_000);
    for (const s of await scrapeAll()) {
      expect(s.sum("pizzapi_generation_mode", { generation: "legacy", mode: "on" })).toBe(0);
      expect(Math.abs(s.sum("pizzapi_generation_mode_changed_timestamp_seconds", { generation: "legacy" }) - Date.now() / 1000)).toBeLessThan(30);
    }
    const hub = keep(await LegacyClient.open(B.url, "/ws/hub", { "x-api-key": keys.leg ?? "" }), (c) => c.close());
    await hub.next("sessions");
    await waitFor(async () => (await scrapeNode(B)).sum("pizzapi_deprecated_connections_total", { generation: "legacy" }) >= 1, "the deprecated connection counted");
    await setMode(A.url, admin, "legacy", null);
  });

  it("logs every connection's open and close, every refusal with its code, every REST call, and no secret anywhere", async () => {
    for (const stop of stops.splice(0)) stop();
    const logLines = (): Array<Record<string, unknown>> =>
      [A, B, C]
        .flatMap((n) => n.logs)
        .flatMap((chunk) => chunk.split("\n"))
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    const closedEverywhere = (): boolean =>
      ["/relay", "/viewer", "/hub", "/runner"].every((namespace) =>
        ["legacy-ws", "websocket"].every((transport) => logLines().some((l) => l.msg === "connection close" && l.namespace === namespace && l.transport === transport)),
      );
    await waitFor(closedEverywhere, "a close line of every namespace and transport", 10_000);
    const parsed = logLines();
    const opens = parsed.filter((l) => l.msg === "connection open");
    const closes = parsed.filter((l) => l.msg === "connection close");
    for (const namespace of ["/relay", "/viewer", "/hub", "/runner"]) {
      for (const transport of ["legacy-ws", "websocket"]) {
        expect(opens.some((l) => l.namespace === namespace && l.transport === transport), `${namespace} ${transport} open`).toBe(true);
        expect(closes.some((l) => l.namespace === namespace && l.transport === transport), `${namespace} ${transport} close`).toBe(true);
      }
    }
    for (const line of [...opens, ...closes]) expect(Object.keys(line)).toEqual(expect.arrayContaining(["node", "namespace", "generation", "clientVersion", "transport", "userId"]));
    for (const line of closes) expect(line).toMatchObject({ durationMs: expect.any(Number), reason: expect.any(String) });
    expect(opens.some((l) => l.generation === "socket-v1" && l.clientVersion === "0.5.7")).toBe(true);
    expect(parsed.some((l) => l.msg === "handshake refused" && l.code === "unauthorized" && l.namespace === "/relay")).toBe(true);
    expect(parsed.some((l) => l.msg === "upgrade refused" && l.code === "unauthorized" && l.path === "/ws/sessions" && l.status === 401)).toBe(true);
    expect(parsed.some((l) => l.msg === "unknown event refused" && l.code === "unknown_event")).toBe(true);
    expect(parsed.some((l) => l.msg === "http request" && l.route === "/api/auth/session" && l.method === "POST" && l.status === 200 && typeof l.durationMs === "number")).toBe(true);
    expect(parsed.some((l) => l.msg === "http request" && l.route === "/api/admin/migration/modes/:generation" && l.status === 200)).toBe(true);

    // The secret grep, over every line every node wrote during the whole run.
    const all = [A, B, C].flatMap((n) => n.logs).join("\n");
    expect(secrets.filter((s) => s.length < 16)).toEqual([]);
    for (const secret of secrets) expect(all.includes(secret), `a secret of ${secret.length} characters in the logs`).toBe(false);
  });
});
