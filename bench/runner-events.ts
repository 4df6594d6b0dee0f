/**
 * Runner events benchmark (bench/README.md): what one `runner_session_event` costs a relay over Redis,
 * in state round trips (Redis commands per event, from `INFO commandstats`) and in time (the runner's
 * ack, sent once the event is stored and broadcast, sequential events, p50/p99).
 *
 *   npx tsx bench/runner-events.ts [--events 3000]
 *
 * One in-process relay from the sources on a throwaway Redis; a Socket.IO runner of the generation that
 * sends `runner_session_event`, a session it spawned (registered by a CLI), one viewer. A measurement,
 * not a test: it prints figures and exits 0.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { connectCli, connectRunner, connectViewer, connected } from "../test/helpers/clients.js";
import { login, startRelay } from "../test/helpers/relay.js";
import { startRedis } from "../test/helpers/redis.js";
import { createRedisClient } from "../server/adapters.js";
import { latencyStats } from "./lib/stats.js";

const { values: flags } = parseArgs({ options: { events: { type: "string", default: "3000" } } });
const EVENTS = Number(flags.events);

const redis = await startRedis();
// The per-connection event budget would throttle a benchmark that sends as fast as acks come back.
const node = await startRelay({ PIZZAPI_REDIS_URL: redis.url, PIZZAPI_MAX_EVENTS_PER_SECOND: "1000000" });
const probe = createRedisClient(redis.url);
await probe.connect();
try {
  const { key } = await node.relay.ctx.state.keys.create({ userId: "alice", userName: "Alice" });
  const cookie = await login(node.url, key);
  const runnerId = randomUUID();
  const runner = connectRunner(node.url, key);
  await connected(runner);
  await runner.emitWithAck("register_runner", { runnerId, runnerSecret: randomBytes(32).toString("hex"), name: "bench" });
  runner.on("new_session", ({ sessionId }: { sessionId: string }) => runner.emit("session_ready", { runnerId, sessionId }));
  const spawned = await fetch(`${node.url}/api/runners/spawn`, { method: "POST", headers: { "x-api-key": key, "content-type": "application/json" }, body: JSON.stringify({ runnerId }) });
  const { sessionId } = (await spawned.json()) as { sessionId: string };
  const cli = connectCli(node.url, key);
  await connected(cli);
  await cli.emitWithAck("register", { cwd: "/bench", sessionName: null, sessionId });
  const viewer = connectViewer(node.url, { cookie, origin: "http://relay.test" }, sessionId);
  await connected(viewer);

  /** Calls per Redis command so far (commands run by scripts are counted under their own names). */
  const commands = async (): Promise<Map<string, number>> => {
    const info = String(await probe.sendCommand(["INFO", "commandstats"]));
    return new Map([...info.matchAll(/cmdstat_([a-z|]+):calls=(\d+)/g)].map((m) => [m[1] as string, Number(m[2])]));
  };
  const send = (i: number) => runner.emitWithAck("runner_session_event", { sessionId, event: { type: "message_update", i, text: "x".repeat(400) } });
  for (let i = 0; i < 300; i++) await send(i); // warm-up
  const before = await commands();
  const latencies = new Float64Array(EVENTS);
  const started = performance.now();
  for (let i = 0; i < EVENTS; i++) {
    const t = performance.now();
    const reply = (await send(i)) as { ok: boolean };
    if (!reply.ok) throw new Error(`runner event refused: ${JSON.stringify(reply)}`);
    latencies[i] = performance.now() - t;
  }
  const seconds = (performance.now() - started) / 1000;
  const after = await commands();
  const stats = latencyStats(latencies);
  // Round trips: EVALSHA (a script: the append) and HGETALL (a record read) come from the relay itself;
  // the streams adapter's XADD is the broadcast.
  const per = (name: string) => (((after.get(name) ?? 0) - (before.get(name) ?? 0)) / EVENTS).toFixed(2);
  console.log(`runner_session_event over Redis, ${EVENTS} sequential events: ${(EVENTS / seconds).toFixed(0)} ev/s, ack p50 ${stats.p50.toFixed(2)} ms, p99 ${stats.p99.toFixed(2)} ms`);
  console.log(`per event: EVALSHA ${per("evalsha")}, HGETALL ${per("hgetall")}, XADD ${per("xadd")}`);
  for (const s of [runner, cli, viewer]) s.disconnect();
} finally {
  await probe.quit().catch(() => undefined);
  await node.stop();
  await redis.stop();
}
