import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { ConnectionStatus } from "../../clients/socketio/status.js";
import { RunnerClient, RunnerClientError, type RunnerClientEvents, type RunnerClientOptions, type RunnerHandlers } from "../../clients/socketio/runner-client.js";
import type { RunnerSkill } from "../../protocol/index.js";
import { connectTerminal, connected, Recorder } from "../helpers/clients.js";
import { TestProxy } from "../helpers/proxy.js";
import { startRelayWithAlice, type TestRelay } from "../helpers/relay.js";

/**
 * The typed runner client (clients/socketio/runner-client.ts) against a real in-process relay: REST
 * calls make the relay send commands, the client's handlers answer them, and the answers settle the
 * REST calls. Reconnection runs socket.io-client's own backoff, shortened here.
 */

const TRUSTED = "http://relay.test";
const FAST_RECONNECT = { reconnectionDelay: 20, reconnectionDelayMax: 100 };

let node: TestRelay;
let key: string;
let cookie: string;
const open: Array<{ close(): unknown } | { disconnect(): unknown }> = [];

beforeAll(async () => {
  ({ node, key, cookie } = await startRelayWithAlice({ PIZZAPI_SPAWN_TIMEOUT_MS: "3000", PIZZAPI_SKILL_TIMEOUT_MS: "3000" }));
});
afterEach(() => {
  for (const c of open.splice(0)) "close" in c ? c.close() : c.disconnect();
});
afterAll(() => node?.stop());

function runner(options: Partial<RunnerClientOptions> & { handlers?: RunnerHandlers } = {}): RunnerClient {
  const client = new RunnerClient({
    url: node.url,
    apiKey: key,
    runnerId: randomUUID(),
    runnerSecret: randomBytes(32).toString("hex"),
    clientVersion: "test",
    ...options,
    ioOptions: { ...FAST_RECONNECT, ...options.ioOptions },
  });
  open.push(client);
  return client;
}

/** The next emission of a client event (with a short real deadline). */
function next<E extends keyof RunnerClientEvents>(client: RunnerClient, event: E, timeoutMs = 5_000): Promise<Parameters<RunnerClientEvents[E]>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${event}`)), timeoutMs);
    const listener = ((...args: Parameters<RunnerClientEvents[E]>) => {
      clearTimeout(timer);
      client.off(event, listener as never);
      resolve(args);
    }) as never;
    client.on(event, listener);
  });
}

/** Every status the client reports from now on. */
function statuses(client: RunnerClient): ConnectionStatus[] {
  const seen: ConnectionStatus[] = [];
  client.on("status", (s) => seen.push(s));
  return seen;
}

async function registered(client: RunnerClient): Promise<string> {
  const [info] = await next(client, "registered");
  return info.runnerId;
}

async function rest(method: string, path: string, body?: unknown, creds: { cookie: string } | { key: string } = { key }): Promise<{ status: number; json: unknown }> {
  const headers: Record<string, string> = "key" in creds ? { "x-api-key": creds.key } : { cookie: creds.cookie };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${node.url}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as unknown) : null };
}

const listed = async (): Promise<Array<{ runnerId: string; name: string | null; roots: string[]; skills: RunnerSkill[] }>> =>
  ((await rest("GET", "/api/runners")).json as { runners: Array<{ runnerId: string; name: string | null; roots: string[]; skills: RunnerSkill[] }> }).runners;

describe("RunnerClient", () => {
  it("registers over WebSocket (the ack carries its runnerId), is listed, and answers a REST spawn through its new_session handler", async () => {
    const spawns: Array<{ sessionId: string; cwd?: string }> = [];
    const handlerErrors: unknown[] = [];
    const runnerId = randomUUID();
    const client = runner({
      runnerId,
      name: "devbox",
      roots: ["/srv"],
      handlers: {
        new_session: async (payload) => {
          spawns.push(payload);
          if (payload.cwd === "/srv/refuse") return { ok: false, message: "no worktree here" };
          if (payload.cwd === "/srv/throw") throw new Error("spawn exploded");
          return { ok: true };
        },
      },
    });
    client.on("handler_error", (command, err) => handlerErrors.push([command, (err as Error).message]));
    expect(await registered(client)).toBe(runnerId);
    expect(client.runnerId).toBe(runnerId);
    expect(client.status).toEqual({ state: "connected", transport: "websocket", recovered: false });
    expect((await listed()).find((r) => r.runnerId === runnerId)).toMatchObject({ runnerId, name: "devbox", roots: ["/srv"] });

    const ok = await rest("POST", "/api/runners/spawn", { runnerId, cwd: "/srv/app" });
    const { sessionId } = ok.json as { sessionId: string };
    expect(ok).toEqual({ status: 200, json: { ok: true, runnerId, sessionId, pending: false } });
    expect(spawns[0]).toEqual({ sessionId, cwd: "/srv/app" });

    // A failure the handler returns, and one it throws, fail the REST call with the legacy 400.
    expect(await rest("POST", "/api/runners/spawn", { runnerId, cwd: "/srv/refuse" })).toEqual({ status: 400, json: { error: "no worktree here" } });
    expect(await rest("POST", "/api/runners/spawn", { runnerId, cwd: "/srv/throw" })).toEqual({ status: 400, json: { error: "spawn exploded" } });
    expect(handlerErrors).toEqual([["new_session", "spawn exploded"]]);

    // Frames resolve with the relay's ack: a session this runner does not own is refused, typed.
    expect(await client.sessionEvent(randomUUID(), { type: "message_update" })).toMatchObject({ ok: false, error: { code: "not_found" } });
  });

  it("answers skill commands from its handlers with the REST call's requestId; an unhandled one fails the call, and the last skill list is what it declares", async () => {
    const initial: RunnerSkill[] = [{ name: "lint", description: "Lint", filePath: "/skills/lint/SKILL.md" }];
    let skills = initial;
    const client = runner({
      skills: initial,
      handlers: {
        get_skill: ({ name }) => (name === "lint" ? { ok: true, content: "# lint" } : { ok: false, message: `No skill ${name}` }),
        create_skill: ({ name, content }) => {
          if (!content) throw new Error("empty skill");
          skills = [...skills, { name, description: "", filePath: `/skills/${name}/SKILL.md` }];
          return { ok: true, skills };
        },
      },
    });
    const runnerId = await registered(client);

    expect(await rest("GET", `/api/runners/${runnerId}/skills/lint`)).toEqual({ status: 200, json: { name: "lint", content: "# lint" } });
    expect(await rest("GET", `/api/runners/${runnerId}/skills/nope`)).toEqual({ status: 404, json: { error: "No skill nope" } });

    const created = await rest("POST", `/api/runners/${runnerId}/skills`, { name: "notes", content: "# notes" });
    expect(created).toEqual({ status: 200, json: { ok: true, skills } });
    expect(skills.map((s) => s.name)).toEqual(["lint", "notes"]);
    expect(await rest("GET", `/api/runners/${runnerId}/skills`)).toEqual({ status: 200, json: { skills } });
    expect(client.skills).toEqual(skills);

    expect(await rest("POST", `/api/runners/${runnerId}/skills`, { name: "bad", content: "" })).toEqual({ status: 400, json: { error: "empty skill" } });
    expect(await rest("DELETE", `/api/runners/${runnerId}/skills/lint`)).toEqual({ status: 404, json: { error: "This runner does not handle delete_skill" } });
  });

  it("spawns a terminal on new_terminal (terminal_ready from the handler's reply) and streams its output to the browser", async () => {
    const inputs: string[] = [];
    let spawned: (payload: { terminalId: string; cols: number; rows: number; cwd?: string }) => void = () => undefined;
    const newTerminal = new Promise<{ terminalId: string; cols: number; rows: number; cwd?: string }>((resolve) => (spawned = resolve));
    const client = runner({
      handlers: {
        new_terminal: (payload) => spawned(payload),
        terminal_input: ({ data }) => void inputs.push(data),
      },
    });
    const runnerId = await registered(client);

    const created = await rest("POST", "/api/runners/terminal", { runnerId, cols: 120, rows: 30 }, { cookie });
    const { terminalId } = created.json as { terminalId: string };
    expect(created.status).toBe(200);
    const term = connectTerminal(node.url, { cookie, origin: TRUSTED }, terminalId);
    open.push(term);
    const rec = new Recorder(term);
    await connected(term);
    await rec.next("terminal_connected");

    term.emit("terminal_resize", { cols: 100, rows: 40 });
    expect(await newTerminal).toEqual({ terminalId, cols: 100, rows: 40 });
    await rec.next("terminal_ready");

    expect(await client.terminal.data(terminalId, Buffer.from("hello\r\n").toString("base64"))).toEqual({ ok: true });
    expect((await rec.next<{ data: string }>("terminal_data"))[0]).toMatchObject({ terminalId, runnerId, data: Buffer.from("hello\r\n").toString("base64") });

    expect(await term.emitWithAck("terminal_input", { data: "bHMK" })).toEqual({ ok: true });
    await expect.poll(() => inputs).toEqual(["bHMK"]);

    expect(await client.terminal.exit(terminalId, 0)).toEqual({ ok: true });
    expect((await rec.next("terminal_exit"))[0]).toMatchObject({ terminalId, exitCode: 0 });
    expect(await client.terminal.data(randomUUID(), "eA==")).toMatchObject({ ok: false, error: { code: "not_found" } });
  });

  it("re-registers by itself with the same runnerId after a cut connection, and the relay routes commands to it again", async () => {
    const proxy = new TestProxy(node.port);
    const proxyUrl = await proxy.start();
    try {
      const spawns: string[] = [];
      const client = runner({ url: proxyUrl, handlers: { new_session: ({ sessionId }) => void spawns.push(sessionId) } });
      const runnerId = await registered(client);
      const seen = statuses(client);

      const lost = next(client, "status");
      const again = next(client, "registered");
      proxy.dropAll();
      expect((await lost)[0]).toMatchObject({ state: "reconnecting", reason: "transport close" });
      // A frame sent while the connection is down waits for the next registration, then gets its ack.
      const skills = [{ name: "fresh", description: "added offline", filePath: "/skills/fresh/SKILL.md" }];
      const queued = client.reportSkills(skills);
      expect((await again)[0].runnerId).toBe(runnerId);
      expect(seen.map((s) => s.state)).toEqual(["reconnecting", "connected"]);
      expect(await queued).toEqual({ ok: true });

      expect((await listed()).filter((r) => r.runnerId === runnerId)).toEqual([expect.objectContaining({ runnerId, skills })]);
      const spawn = await rest("POST", "/api/runners/spawn", { runnerId });
      expect(spawn).toMatchObject({ status: 200, json: { ok: true, runnerId, pending: false } });
      expect(spawns).toEqual([(spawn.json as { sessionId: string }).sessionId]);
    } finally {
      await proxy.stop();
    }
  });

  it("stops with status failed and the refusal's code when its runnerSecret does not match, or its key is refused", async () => {
    const owner = runner();
    const runnerId = await registered(owner);

    const impostor = runner({ runnerId });
    const [error] = await next(impostor, "error");
    expect(error).toBeInstanceOf(RunnerClientError);
    expect(error).toMatchObject({ code: "forbidden", event: "register_runner", message: `Runner authentication failed: secret mismatch for runner ${runnerId}` });
    await expect.poll(() => impostor.status).toEqual({ state: "failed", reason: error.message, code: "forbidden" });
    await expect(impostor.terminal.data("t", "eA==")).rejects.toMatchObject({ code: "forbidden" });
    expect(impostor.runnerId).toBeNull();
    expect(owner.status.state).toBe("connected");
    expect((await listed()).map((r) => r.runnerId)).toContain(runnerId);

    const stranger = runner({ apiKey: "not-a-key" });
    const [refused] = await next(stranger, "error");
    expect(refused.code).toBe("unauthorized");
    await expect.poll(() => stranger.status).toMatchObject({ state: "failed", code: "unauthorized" });
  });
});
