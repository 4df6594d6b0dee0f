import { mkdtempSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FileApiKeyStore } from "../../server/state/file-keys.js";
import { startNode, type NodeProcess } from "../helpers/cluster.js";
import { LegacyClient } from "../helpers/legacy.js";
import { legacyCli, legacyRunner, sendLegacyEvents, type LegacyCli } from "../helpers/legacy-flows.js";
import { RawSocketIo } from "../helpers/raw-socketio.js";
import { waitFor } from "../helpers/wait.js";

/**
 * Frames that used to end the relay's process (docs/protocol.md, "Limits and hostile input"): a legacy
 * `type` naming an Object.prototype member was looked up in a plain-object codec table and called, and a
 * field nested ~5,000 levels deep overflowed the stack when the bridge re-encoded it. The relay runs as
 * its own process here, so a crash is an exit the test sees, on every endpoint, after authentication
 * and with live ids (so each frame reaches the translation and the namespace behind it).
 */

const INHERITED = [
  "__proto__",
  "constructor",
  "valueOf",
  "hasOwnProperty",
  "toString",
  "toLocaleString",
  "isPrototypeOf",
  "propertyIsEnumerable",
  "__defineGetter__",
  "__defineSetter__",
  "__lookupGetter__",
  "__lookupSetter__",
];
const deep = (levels: number): string => "[".repeat(levels) + "1" + "]".repeat(levels);
const DEEP = deep(5_000);
const DEPTH_LIMIT = 64;

/** The frame types each endpoint serves, plus one it does not: each gets a deep field. */
const SERVED: Record<string, string[]> = {
  cli: ["register", "event", "session_end", "exec_result", "nope"],
  viewer: ["resync", "connected", "input", "model_set", "exec", "nope"],
  runner: ["register_runner", "session_ready", "sessions_list", "skill_result", "terminal_data", "nope"],
  terminal: ["terminal_resize", "terminal_input", "kill_terminal", "nope"],
  hub: ["nope"],
};

describe("hostile frames do not end the relay's process", () => {
  let node: NodeProcess;
  let key: string;
  let cli: LegacyCli;
  let runner: LegacyClient;
  let runnerId: string;
  let terminalId: string;
  const open: Array<{ close(): void }> = [];

  beforeAll(async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "pizzapi-hostile-"));
    key = (await new FileApiKeyStore(dataDir).create({ userId: "alice", userName: "alice" })).key;
    node = await startNode({ name: "hostile", dataDir, env: { PIZZAPI_MAX_JSON_DEPTH: String(DEPTH_LIMIT) } });
    cli = await legacyCli(node.url, key);
    open.push(cli.client);
    ({ client: runner, runnerId } = await legacyRunner(node.url, key, { runnerId: "hostile-runner", runnerSecret: "s3cret-hostile-runner", name: "box", roots: ["/"] }));
    open.push(runner);
    const res = await fetch(`${node.url}/api/runners/terminal`, { method: "POST", headers: { "x-api-key": key, "content-type": "application/json" }, body: JSON.stringify({ runnerId }) });
    ({ terminalId } = (await res.json()) as { terminalId: string });
  });
  afterAll(async () => {
    for (const c of open) c.close();
    await node?.stop();
  });

  const alive = (): void => expect(node.proc.exitCode === null && node.proc.signalCode === null, `relay exited:\n${node.logs.slice(-5).join("\n")}`).toBe(true);

  /** Opens every legacy endpoint with alice's key and live ids, each past its first server frame. */
  async function openEndpoints(): Promise<Record<string, LegacyClient>> {
    const viewer = await LegacyClient.open(node.url, `/ws/sessions/${cli.sessionId}`, { "x-api-key": key });
    const terminal = await LegacyClient.open(node.url, `/ws/terminal/${terminalId}`, { "x-api-key": key });
    const hub = await LegacyClient.open(node.url, "/ws/hub", { "x-api-key": key });
    open.push(viewer, terminal, hub);
    await viewer.next("connected");
    await terminal.next("terminal_connected");
    await hub.next("sessions");
    return { cli: cli.client, viewer, runner, terminal, hub };
  }

  it("answers an inherited-name type as an unknown one (ignored) on all five endpoints", async () => {
    const endpoints = await openEndpoints();
    for (const client of Object.values(endpoints)) {
      for (const type of INHERITED) client.send({ type });
      client.send(`{"type":"__proto__","__proto__":{"polluted":true}}`);
    }
    // The CLI still publishes and its viewer still receives: the session survived the frames.
    sendLegacyEvents(cli, [{ type: "message_update", text: "after" }], 1);
    await endpoints.viewer?.until(() => endpoints.viewer?.typed("event").some((f) => (f.event as { text?: string }).text === "after") ?? false, "event after the hostile frames");
    alive();
    for (const [name, client] of Object.entries(endpoints)) {
      expect(client.closed, name).toBeNull();
      expect(client.typed("error"), name).toEqual([]);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("refuses a frame nested past the limit with an error frame, on every frame type of every endpoint", async () => {
    const endpoints = await openEndpoints();
    for (const [name, client] of Object.entries(endpoints)) {
      const types = SERVED[name] ?? [];
      for (const type of types) client.send(`{"type":"${type}","sessionId":"${cli.sessionId}","terminalId":"${terminalId}","x":${DEEP}}`);
      // One level inside the limit is still accepted: a deep but legal exec_result / input goes through.
      client.send(`{"type":"nope","x":${deep(DEPTH_LIMIT - 1)}}`);
      const errors = await client.next("error", types.length);
      expect(errors.map((e) => e.message), name).toEqual(types.map(() => `Frame nested deeper than ${DEPTH_LIMIT} levels`));
    }
    sendLegacyEvents(cli, [{ type: "message_update", text: "still here" }], 2);
    await endpoints.viewer?.until(() => endpoints.viewer?.typed("event").some((f) => (f.event as { text?: string }).text === "still here") ?? false, "event after the deep frames");
    alive();
    for (const [name, client] of Object.entries(endpoints)) expect(client.closed, name).toBeNull();
  });

  it("closes a legacy runner refused for a long runner id with the reason cut to 123 bytes (a longer one made ws throw and end the process)", async () => {
    // Found by the fuzz suite (seed 777, task 5801): the refusal names the id, and legacy runners are closed with it as the reason.
    const longId = "r".repeat(300);
    const { client: first } = await legacyRunner(node.url, key, { runnerId: longId, runnerSecret: "s3cret-long-runner-one", name: "a", roots: ["/"] });
    open.push(first);
    const second = await LegacyClient.open(node.url, "/ws/runner", { "x-api-key": key });
    open.push(second);
    second.send({ type: "register_runner", runnerId: longId, runnerSecret: "s3cret-long-runner-two", name: "b", roots: ["/"] });
    const closed = await second.closedWith();
    expect(closed.code).toBe(1008);
    expect(closed.reason).toMatch(/^Runner authentication failed: secret mismatch for runner r+$/);
    expect(Buffer.byteLength(closed.reason)).toBeLessThanOrEqual(123);
    alive();
  });

  it("refuses a deep payload on every Socket.IO namespace with invalid_payload through the ack", async () => {
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ["/relay", { apiKey: key }, "exec_result"],
      ["/viewer", { apiKey: key, sessionId: cli.sessionId }, "input"],
      ["/hub", { apiKey: key }, "nope"],
      ["/runner", { apiKey: key, runnerId: "hostile-native", runnerSecret: "s3cret-hostile-native" }, "terminal_data"],
      ["/terminal", { apiKey: key, terminalId }, "terminal_input"],
    ];
    for (const [nsp, auth, event] of cases) {
      const raw = await RawSocketIo.open(node.url);
      open.push(raw);
      expect(await raw.connect(nsp, auth)).toMatch(new RegExp(`^40${nsp},`));
      for (const name of INHERITED) raw.emitRaw(nsp, `["${name}",{}]`);
      if (event !== "nope") {
        raw.emitRaw(nsp, `["${event}",{"x":${DEEP}}]`, 7);
        const [reply] = await raw.ack(nsp, 7);
        expect(reply, nsp).toMatchObject({ ok: false, error: { code: "invalid_payload", message: `Invalid ${event} payload: nested deeper than ${DEPTH_LIMIT} levels` } });
      }
    }
    alive();
  });
});

describe("hostile HTTP requests do not end the relay's process", () => {
  let node: NodeProcess;
  let metricsPort: number;
  beforeAll(async () => {
    node = await startNode({ name: "hostile-http", env: { PIZZAPI_METRICS_PORT: "0", PIZZAPI_METRICS_HOST: "127.0.0.1" } });
    await waitFor(() => node.logs.some((l) => /metrics on port \d+/.test(l)), "the metrics port");
    metricsPort = Number(/metrics on port (\d+)/.exec(node.logs.find((l) => /metrics on port/.test(l)) ?? "")?.[1]);
  });
  afterAll(async () => node?.stop());

  /** Sends a raw request and resolves with the first line of the answer ("" when the socket just closed). */
  function raw(port: number, request: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, "127.0.0.1", () => socket.write(request));
      let answer = "";
      socket.on("data", (c: Buffer) => (answer += c.toString("latin1")));
      socket.on("close", () => resolve(answer.split("\r\n")[0] ?? ""));
      socket.on("error", reject);
      socket.setTimeout(3_000, () => socket.destroy());
    });
  }

  const UPGRADE = "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: MDEyMzQ1Njc4OWFiY2RlZg==\r\n";
  it.each(["//", "//ws/sessions", "/%", "/ws/%zz", "http://[::1", "*"])("answers an upgrade of %j and keeps running", async (target) => {
    const first = await raw(node.port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${UPGRADE}\r\n`);
    expect(first === "" || /^HTTP\/1\.1 [45]\d\d/.test(first), first).toBe(true);
    expect(node.proc.exitCode).toBeNull();
  });

  it.each(["//", "/%", "//metrics"])("answers %j on the main port and on the metrics port and keeps running", async (target) => {
    for (const port of [node.port, metricsPort]) {
      const first = await raw(port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
      expect(first, `${port} ${target}`).toMatch(/^HTTP\/1\.1 [1-5]\d\d/);
    }
    expect(node.proc.exitCode).toBeNull();
  });
});
