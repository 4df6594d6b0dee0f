import { Writable } from "node:stream";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../server/config.js";
import { createLogger } from "../../server/logger.js";
import { createRelayServer, type RelayServer } from "../../server/relay-server.js";
import { connectCli, connectHub, connectViewer, connected, Recorder } from "../helpers/clients.js";
import { login } from "../helpers/relay.js";

/** Secrets (API keys, login tokens, session tokens, cookies) never reach a log line, even at trace level. */
describe("logs carry no secrets", () => {
  const lines: string[] = [];
  let relay: RelayServer;
  let url: string;

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString("utf8"));
        done();
      },
    });
    const config = loadConfig({
      PORT: "0",
      PIZZAPI_HOST: "127.0.0.1",
      PIZZAPI_BASE_URL: "http://relay.test",
      PIZZAPI_DATA_DIR: await mkdtemp(join(tmpdir(), "pizzapi-logs-")),
      PIZZAPI_LOG_LEVEL: "trace",
    });
    relay = await createRelayServer(config, { logger: createLogger({ level: "trace", nodeId: "logs", destination: sink }) });
    url = `http://127.0.0.1:${await relay.start()}`;
  });
  afterAll(async () => relay.stop());

  it("logs identities and outcomes, never the credentials that produced them", async () => {
    const { key } = await relay.ctx.state.keys.create({ userId: "alice", userName: "Alice" });
    const cookie = await login(url, key);
    const token = cookie.split("=")[1] ?? "";
    const cli = connectCli(url, key);
    await connected(cli);
    const reg = await cli.emitWithAck("register", { cwd: "/p" });
    if (!reg.ok) throw new Error(reg.error.message);
    await cli.emitWithAck("event", { token: reg.token, seq: 1, event: { type: "agent_start" } });
    await cli.emitWithAck("event", { token: "wrong-token-value", seq: 2, event: { type: "agent_start" } });
    const viewer = connectViewer(url, { cookie }, reg.sessionId);
    await new Recorder(viewer).next("connected");
    const refused = connectHub(url, { cookie: `pizzapi_session=${"f".repeat(64)}`, origin: "http://evil.test" });
    await connected(refused).catch(() => undefined);
    const badKey = connectCli(url, `${key.slice(0, -4)}0000`);
    await connected(badKey).catch(() => undefined);
    for (const s of [cli, viewer, refused, badKey]) s.disconnect();
    await new Promise((r) => setTimeout(r, 100));

    const all = lines.join("");
    expect(all).toContain('"userId":"alice"');
    expect(all).toContain("session registered");
    expect(all).toContain("handshake refused");
    for (const secret of [key, token, reg.token, "f".repeat(64), `${key.slice(0, -4)}0000`, "wrong-token-value"]) {
      expect(secret.length).toBeGreaterThan(8);
      expect(all).not.toContain(secret);
    }
  });
});
