import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createRedisClient, type RelayRedisClient } from "../../server/adapters.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterState, startNode, type NodeProcess } from "../helpers/cluster.js";
import { connectCli } from "../helpers/clients.js";
import { freePort, startRedis, uniquePrefix, type TestRedis } from "../helpers/redis.js";
import { upgradeAnswer } from "../helpers/upgrade.js";
import { ackedUpTo, legacyCli, sendLegacyEvents } from "../helpers/legacy-flows.js";

/**
 * Shared state that does not answer never hangs the relay (docs/operations.md): with Redis paused or
 * gone, REST routes answer 503 and handshakes are closed for a retry within the state timeout; a node
 * that cannot reach Redis at start exits with a clear error after a bounded time.
 */

const ROOT = resolve(import.meta.dirname, "../..");
const STATE_TIMEOUT_MS = 500;
/** What "at once" means here: the state timeout plus the coarse timer's slack and a loaded machine. */
const WITHIN_MS = 2_000;

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

describe("a node whose Redis does not answer", () => {
  let redis: TestRedis;
  let node: NodeProcess;
  let key: string;
  let admin: RelayRedisClient;

  beforeAll(async () => {
    redis = await startRedis();
    const prefix = uniquePrefix();
    node = await startNode({ name: "outage", redisUrl: redis.url, prefix, env: { PIZZAPI_STATE_TIMEOUT_MS: String(STATE_TIMEOUT_MS) } });
    const shared = await clusterState(redis.url, prefix);
    key = (await shared.state.keys.create({ userId: "alice", userName: "alice" })).key;
    await shared.close();
    admin = createRedisClient(redis.url);
    admin.on("error", () => undefined);
    await admin.connect();
  }, 30_000);
  afterAll(async () => {
    await node?.stop();
    await admin?.close().catch(() => undefined);
    await redis?.stop();
  });

  async function expectPromptRefusals(): Promise<void> {
    const login = await timed(() => fetch(`${node.url}/api/auth/session`, { method: "POST", headers: { "x-api-key": key } }));
    expect(login.value.status).toBe(503);
    expect(login.ms).toBeLessThan(WITHIN_MS);
    const sessions = await timed(() => fetch(`${node.url}/api/sessions`, { headers: { "x-api-key": key } }));
    expect(sessions.value.status).toBe(503);
    expect(sessions.ms).toBeLessThan(WITHIN_MS);
    const ready = await timed(() => fetch(`${node.url}/readyz`));
    expect(ready.value.status).toBe(503);
    expect(ready.ms).toBeLessThan(WITHIN_MS);
    const legacy = await timed(() => upgradeAnswer(node.url, "/ws/sessions", { "x-api-key": key }));
    expect(legacy.value.status).toBe(503);
    expect(legacy.ms).toBeLessThan(WITHIN_MS);
    // A Socket.IO handshake the relay cannot check is closed (not refused), so the client retries.
    const cli = connectCli(node.url, key);
    const handshake = await timed(
      () =>
        new Promise<string>((done) => {
          cli.once("connect", () => done("connected"));
          cli.once("connect_error", (err: Error & { data?: { code?: string } }) => done(err.data?.code ?? err.message));
          cli.io.engine.once("close", () => done("closed for a retry"));
        }),
    );
    cli.disconnect();
    expect(handshake.value).toBe("closed for a retry");
    expect(handshake.ms).toBeLessThan(WITHIN_MS);
    expect(node.proc.exitCode).toBeNull();
  }

  it("answers at once while Redis is paused", async () => {
    await admin.sendCommand(["CLIENT", "PAUSE", "6000", "ALL"]);
    try {
      await expectPromptRefusals();
    } finally {
      await admin.sendCommand(["CLIENT", "UNPAUSE"]);
    }
    expect((await fetch(`${node.url}/api/sessions`, { headers: { "x-api-key": key } })).status).toBe(200);
  });

  it("acknowledges a legacy CLI's events only once they are stored: none while Redis is paused", async () => {
    const cli = await legacyCli(node.url, key);
    sendLegacyEvents(cli, [{ type: "message_update", n: 1 }, { type: "message_update", n: 2 }]);
    await ackedUpTo(cli, 2);
    await admin.sendCommand(["CLIENT", "PAUSE", "2500", "WRITE"]);
    try {
      sendLegacyEvents(cli, [{ type: "message_update", n: 3 }, { type: "message_update", n: 4 }], 3);
      await new Promise((r) => setTimeout(r, 1_500));
      expect(Math.max(...cli.client.typed("event_ack").map((a) => Number(a.seq)))).toBe(2);
    } finally {
      await admin.sendCommand(["CLIENT", "UNPAUSE"]);
    }
    // Later events are stored, but the acks never claim 3 and 4, which were not.
    sendLegacyEvents(cli, [{ type: "message_update", n: 5 }], 5);
    await new Promise((r) => setTimeout(r, 500));
    expect(Math.max(...cli.client.typed("event_ack").map((a) => Number(a.seq)))).toBe(2);
    cli.client.close();
  });

  it("answers at once while Redis is gone, and serves again once it is back", async () => {
    await redis.stop();
    try {
      await expectPromptRefusals();
    } finally {
      await redis.restart();
    }
    const deadline = Date.now() + 15_000;
    let status = 0;
    while (status !== 200 && Date.now() < deadline) {
      status = (await fetch(`${node.url}/readyz`)).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 200));
    }
    expect(status).toBe(200);
  });
});

describe("a node started while Redis is unreachable", () => {
  it("exits 1 after PIZZAPI_REDIS_CONNECT_TIMEOUT_MS with a message naming the Redis and the setting, never its password", async () => {
    const port = await freePort();
    const started = performance.now();
    const result = await new Promise<{ code: number | null; stderr: string }>((done) => {
      const child = spawn(process.execPath, ["bin/pizzapi-relay.js", "start"], {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH ?? "",
          HOME: tmpdir(),
          PORT: "0",
          PIZZAPI_HOST: "127.0.0.1",
          PIZZAPI_DATA_DIR: mkdtempSync(join(tmpdir(), "pizzapi-unreachable-")),
          PIZZAPI_REDIS_URL: `redis://:hunter2-not-logged@127.0.0.1:${port}`,
          PIZZAPI_REDIS_CONNECT_TIMEOUT_MS: "1500",
        },
      });
      let stderr = "";
      child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
      child.stdout.on("data", (c: Buffer) => (stderr += c.toString()));
      const kill = setTimeout(() => child.kill("SIGKILL"), 20_000);
      child.on("exit", (code) => {
        clearTimeout(kill);
        done({ code, stderr });
      });
    });
    expect(result.code).toBe(1);
    expect(performance.now() - started).toBeLessThan(15_000);
    expect(result.stderr).toContain(`Redis at 127.0.0.1:${port} did not answer within 1500 ms`);
    expect(result.stderr).toContain("PIZZAPI_REDIS_CONNECT_TIMEOUT_MS");
    expect(result.stderr).not.toContain("hunter2-not-logged");
  });
});
