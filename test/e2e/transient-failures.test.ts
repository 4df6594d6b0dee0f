import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { HubClient } from "../../clients/browser/hub.js";
import { ViewerClient } from "../../clients/browser/viewer.js";
import { RelayClient } from "../../clients/socketio/cli-client.js";
import type { ConnectionStatus } from "../../clients/socketio/status.js";
import { loadConfig } from "../../server/config.js";
import { createLogger } from "../../server/logger.js";
import { createRelayServer, type RelayServer } from "../../server/relay-server.js";
import { createMemoryState } from "../../server/state/memory.js";
import type { SharedState } from "../../server/state/types.js";
import { login } from "../helpers/relay.js";
import { waitFor } from "../helpers/wait.js";

/**
 * A failure of the relay's own (shared state or auth backend unavailable) must not strand a Socket.IO
 * client: a refusal or a server-side disconnect is final for socket.io-client, so the relay closes the
 * connection instead and the client retries with its own backoff. The state here is the real in-memory
 * one, with one method made to fail the next N calls (an outage of the backend).
 */
describe("transient relay failures: Socket.IO clients retry on their own", () => {
  let relay: RelayServer;
  let url: string;
  let key: string;
  let cookie: string;
  let state: SharedState;
  const failing = new Map<string, number>();
  const cleanup: Array<() => void> = [];
  const fast = { reconnectionDelay: 50, reconnectionDelayMax: 100 };

  /** Makes `target[method]` throw for its next `times` calls. */
  function outage<T extends object>(target: T, method: keyof T & string, times: number): void {
    failing.set(method, times);
    const original = (target[method] as (...args: unknown[]) => Promise<unknown>).bind(target);
    Object.assign(target, {
      [method]: async (...args: unknown[]) => {
        const left = failing.get(method) ?? 0;
        if (left > 0) {
          failing.set(method, left - 1);
          throw new Error(`injected outage of ${method}`);
        }
        return original(...args);
      },
    });
  }

  beforeAll(async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "pizzapi-transient-"));
    const config = loadConfig({ PORT: "0", PIZZAPI_HOST: "127.0.0.1", PIZZAPI_DATA_DIR: dataDir, PIZZAPI_LOG_LEVEL: "silent" });
    state = createMemoryState({ dataDir });
    relay = await createRelayServer(config, { state, logger: createLogger({ level: "silent", nodeId: "t" }) });
    url = `http://127.0.0.1:${await relay.start()}`;
    key = (await state.keys.create({ userId: "alice", userName: "alice" })).key;
    cookie = await login(url, key);
  });
  afterEach(() => {
    for (const fn of cleanup.splice(0)) fn();
    failing.clear();
  });
  afterAll(async () => {
    await relay?.stop();
  });

  const track = <T extends { close(): void }>(c: T): T => (cleanup.push(() => c.close()), c);
  const until = (what: string, check: () => boolean): Promise<void> => waitFor(check, what, 4_000);

  it("an unavailable auth backend at handshake: the CLI client reconnects by itself and registers", async () => {
    outage(state.keys, "verify", 2);
    const cli = track(new RelayClient({ url, apiKey: key, ioOptions: fast }));
    const statuses: ConnectionStatus[] = [];
    cli.on("status", (s) => statuses.push(s));
    let registered = false;
    cli.on("registered", () => (registered = true));
    cli.start();
    await until("registration", () => registered);
    expect(failing.get("verify")).toBe(0);
    expect(statuses.filter((s) => s.state === "reconnecting").length).toBeGreaterThanOrEqual(1);
    expect(statuses.some((s) => s.state === "failed")).toBe(false);
    // The refused attempts left no socket behind: socket.io keeps a socket whose middleware never
    // called next() in the namespace's pre-connect map for good (a private field, read only here).
    const pending = (relay.ctx.relay as unknown as { _preConnectSockets: Map<string, unknown> })._preConnectSockets;
    expect(pending.size).toBe(0);
  });

  it("an event whose append fails while later ones are stored: the CLI client resends it and loses nothing", async () => {
    const cli = track(new RelayClient({ url, apiKey: key, retryDelayMs: 20, ioOptions: fast }));
    const sessionId = await new Promise<string>((resolve) => cli.once("registered", (r) => resolve(r.sessionId)).start());
    const errors: string[] = [];
    cli.on("error", (e) => errors.push(e.code));
    cli.publish({ type: "message_update", n: 1 });
    await cli.flushed();
    // One append fails (a Redis blip); the events sent after it on the same connection reach the store.
    outage(state.sessions, "publish", 1);
    for (let n = 2; n <= 5; n++) cli.publish({ type: "message_update", n });
    await cli.flushed();
    const log = (await state.sessions.view(sessionId, 0))?.log;
    expect(log?.complete && log.events.map((e) => (JSON.parse(e.eventJson ?? "{}") as { n: number }).n)).toEqual([1, 2, 3, 4, 5]);
    expect(errors[0]).toBe("unavailable");
    expect(cli.stats).toMatchObject({ published: 5, duplicates: 0, dropped: 0 });
  });

  it("a viewer join that cannot read the session: the viewer retries and gets the join sequence", async () => {
    const cli = track(new RelayClient({ url, apiKey: key, ioOptions: fast }));
    const sessionId = await new Promise<string>((resolve) => cli.once("registered", (r) => resolve(r.sessionId)).start());
    cli.publish({ type: "session_active", state: { title: "t" } });
    await cli.flushed();

    outage(state.sessions, "view", 1);
    const viewer = track(new ViewerClient({ url, sessionId, ioOptions: { ...fast, forceNew: true, extraHeaders: { cookie } } }));
    const statuses: ConnectionStatus[] = [];
    const errors: string[] = [];
    viewer.on("status", (s) => statuses.push(s));
    viewer.on("error", (e) => errors.push(e.code));
    let synced = false;
    viewer.on("synced", () => (synced = true));
    await until("synced", () => synced);
    cli.publish({ type: "message_update", n: 1 });
    await until("live event", () => viewer.lastSeq === 2);
    expect(errors).toEqual(["unavailable"]);
    expect(statuses.some((s) => s.state === "reconnecting")).toBe(true);
    expect(statuses.some((s) => s.state === "failed" || s.state === "closed")).toBe(false);
  });

  it("a hub whose list cannot be read: the hub retries and gets it", async () => {
    outage(state.sessions, "listByUser", 1);
    const hub = track(new HubClient({ url, ioOptions: { ...fast, forceNew: true, extraHeaders: { cookie } } }));
    let lists = 0;
    hub.on("sessions", () => lists++);
    await until("a session list", () => lists > 0);
    expect(failing.get("listByUser")).toBe(0);
  });
});
