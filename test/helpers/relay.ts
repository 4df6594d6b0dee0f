import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../server/config.js";
import { createLogger, type Logger } from "../../server/logger.js";
import { createRelayServer, type RelayServer } from "../../server/relay-server.js";
import { relayPlugins } from "../../bin/composition.js";

export interface TestRelay {
  relay: RelayServer;
  url: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * One relay node in this process on a free port (embedded mode unless PIZZAPI_REDIS_URL is given), with
 * the plugins of the composition root, as `pizzapi-relay start` attaches them. `logger`: to read its lines.
 */
export async function startRelay(env: Record<string, string> = {}, options: { logger?: Logger } = {}): Promise<TestRelay> {
  const dataDir = env.PIZZAPI_DATA_DIR ?? (await mkdtemp(join(tmpdir(), "pizzapi-test-")));
  const config = loadConfig({
    PORT: "0",
    PIZZAPI_HOST: "127.0.0.1",
    PIZZAPI_BASE_URL: "http://relay.test",
    PIZZAPI_DATA_DIR: dataDir,
    PIZZAPI_LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    PIZZAPI_DRAIN_DELAY_MS: "0",
    ...env,
  });
  const relay = await createRelayServer(config, {
    logger: options.logger ?? createLogger({ level: config.logLevel, nodeId: "test" }),
    plugins: relayPlugins(env),
  });
  const port = await relay.start();
  return { relay, port, url: `http://127.0.0.1:${port}`, stop: () => relay.stop() };
}

/** Logs in with an API key and returns the `Cookie` header value a browser would send. */
export async function login(url: string, apiKey: string): Promise<string> {
  const res = await fetch(`${url}/api/auth/session`, { method: "POST", headers: { "x-api-key": apiKey } });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
  const setCookie = res.headers.get("set-cookie");
  if (!setCookie) throw new Error("login set no cookie");
  return setCookie.split(";")[0] ?? "";
}

/** A relay with one user, alice: her API key and her browser login cookie (the common test fixture). */
export async function startRelayWithAlice(env: Record<string, string> = {}): Promise<{ node: TestRelay; key: string; cookie: string }> {
  const node = await startRelay(env);
  const key = (await node.relay.ctx.state.keys.create({ userId: "alice", userName: "alice" })).key;
  return { node, key, cookie: await login(node.url, key) };
}
