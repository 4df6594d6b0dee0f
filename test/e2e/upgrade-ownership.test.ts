import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { relayPlugins } from "../../bin/composition.js";
import { LEGACY_RETIRED_BODY } from "../../migration/retirement.js";
import { loadConfig } from "../../server/config.js";
import { createLogger } from "../../server/logger.js";
import { createRelayServer, type RelayServer } from "../../server/relay-server.js";
import { connectCli, connected } from "../helpers/clients.js";
import { startRelayWithAlice, type TestRelay } from "../helpers/relay.js";
import { upgradeAnswer } from "../helpers/upgrade.js";

/**
 * The relay owns the HTTP upgrade event (docs/architecture.md section 5): every upgrade gets an answer at
 * once, engine.io's own path included, and deleting the bridge leaves `/ws/*` refused with the
 * retirement notice, not hanging.
 */

const UNSERVED = ["/_tunnel", "/foo", "/", "/api/sessions", "/socket.iox", "/ws"];
const LEGACY = ["/ws/sessions", "/ws/sessions/abc", "/ws/runner", "/ws/terminal/abc", "/ws/hub", "/ws/nope", "/ws/"];

describe("every upgrade is answered", () => {
  let node: TestRelay;
  let key: string;
  beforeAll(async () => ({ node, key } = await startRelayWithAlice()));
  afterAll(async () => node?.stop());

  it.each(UNSERVED)("answers an upgrade of %s with 404 within a second", async (path) => {
    const answer = await upgradeAnswer(node.url, path, { "x-api-key": key });
    expect(answer.status).toBe(404);
    expect(JSON.parse(answer.body)).toEqual({ error: "Not found" });
    expect(answer.ms).toBeLessThan(1_000);
  });

  it("still hands /socket.io/ upgrades to engine.io", async () => {
    const answer = await upgradeAnswer(node.url, "/socket.io/?EIO=4&transport=websocket");
    expect(answer.status).toBe(101);
  });

  it("still serves the bridged /ws/* endpoints", async () => {
    expect((await upgradeAnswer(node.url, "/ws/sessions", { "x-api-key": key })).status).toBe(101);
    expect((await upgradeAnswer(node.url, "/ws/nope", { "x-api-key": key })).status).toBe(404);
  });
});

describe("a relay composed without the bridge (the legacy path deleted)", () => {
  let relay: RelayServer;
  let url: string;
  let key: string;
  beforeAll(async () => {
    const config = loadConfig({ PORT: "0", PIZZAPI_HOST: "127.0.0.1", PIZZAPI_LOG_LEVEL: "silent", PIZZAPI_DATA_DIR: `/tmp/pizzapi-nobridge-${process.pid}` });
    const plugins = relayPlugins({}).filter((p) => p.name !== "legacy-bridge");
    relay = await createRelayServer(config, { plugins, logger: createLogger({ level: "silent", nodeId: "no-bridge" }) });
    url = `http://127.0.0.1:${await relay.start()}`;
    key = (await relay.ctx.state.keys.create({ userId: "alice", userName: "alice" })).key;
  });
  afterAll(async () => relay?.stop());

  it.each(LEGACY)("refuses %s at once with 410 and the retirement notice", async (path) => {
    const answer = await upgradeAnswer(url, path, { "x-api-key": key });
    expect(answer.status).toBe(410);
    expect(answer.body).toBe(LEGACY_RETIRED_BODY);
    expect(answer.ms).toBeLessThan(1_000);
  });

  it("serves Socket.IO clients as before", async () => {
    const cli = connectCli(url, key);
    await connected(cli);
    expect(await cli.emitWithAck("register", { cwd: "/x" })).toMatchObject({ ok: true });
    cli.disconnect();
  });
});
