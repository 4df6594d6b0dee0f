import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { FieldCli, FieldRunner, type CliGeneration, type FieldCliOptions, type ReceivedInput, type RunnerGeneration } from "../../clients/generations/index.js";
import { commonNamespace } from "../../server/io/typed.js";
import { connectCli, connectRunner, connectTerminal, connectViewer, connected, Recorder, type ViewerSocket } from "../helpers/clients.js";
import { startRelayWithAlice, type TestRelay } from "../helpers/relay.js";
import { waitFor } from "../helpers/wait.js";

/**
 * The Socket.IO CLIs and runner daemons of the released generations (clients/generations/) against one
 * in-process relay in embedded mode: each is admitted, routed to its generation, and every flow it was
 * built for works unchanged (docs/protocol.md: "Handshake", "Replies and errors", `/relay`, `/runner`).
 */

const CLI_GENERATIONS: readonly CliGeneration[] = ["socket-unversioned", "socket-v1", "socket-v1-acked"];
const VERSIONED_CLI_GENERATIONS: readonly CliGeneration[] = ["socket-v1", "socket-v1-acked"];
const RUNNER_GENERATIONS: ReadonlyArray<{ generation: RunnerGeneration; newerRelease: boolean }> = [
  { generation: "socket-unversioned", newerRelease: false },
  // A socket-v1 daemon of a newer release: extra registration fields and events the relay does not serve.
  { generation: "socket-v1", newerRelease: true },
];
/** Only the recovery test reconnects; it should not wait the field clients' full second. */
const QUICK_RECONNECTION = { reconnectionDelay: 50, reconnectionDelayMax: 200 };
const CWD = "/home/alice/proj";

let node: TestRelay;
let key: string;
let cookie: string;
const opened: Array<{ stop(): void } | { disconnect(): unknown }> = [];

function track<T extends { stop(): void } | { disconnect(): unknown }>(client: T): T {
  opened.push(client);
  return client;
}

beforeAll(async () => {
  // Recovery on: one case below is about a recovered connection (it is off by default).
  ({ node, key, cookie } = await startRelayWithAlice({ PIZZAPI_RECOVERY_WINDOW_MS: "120000" }));
});
afterEach(() => {
  for (const client of opened.splice(0)) {
    if ("stop" in client) client.stop();
    else client.disconnect();
  }
});
afterAll(async () => {
  await node?.stop();
});

/** The generation the relay recorded for a connection (socket.data.clientGeneration), by socket id. */
function recordedGeneration(namespace: "/relay" | "/runner", socketId: string | undefined): string | undefined {
  return socketId === undefined ? undefined : commonNamespace(node.relay.io, namespace).sockets.get(socketId)?.data.clientGeneration;
}

type CliExtras = Partial<Pick<FieldCliOptions, "clientVersion" | "sessionFile" | "parentSessionId" | "reconnection">>;

async function registeredCli(generation: CliGeneration, options: CliExtras = {}): Promise<FieldCli> {
  const cli = track(new FieldCli({ url: node.url, apiKey: key, generation, cwd: CWD, ...options })).start();
  await waitFor(() => cli.registered !== null, `the ${generation} CLI to register`);
  return cli;
}

/** A browser viewer of the session, joined (`synced` received). */
async function joinedViewer(sessionId: string): Promise<{ viewer: ViewerSocket; recorder: Recorder }> {
  const viewer = track(connectViewer(node.url, { cookie }, sessionId));
  const recorder = new Recorder(viewer);
  await recorder.next("synced");
  return { viewer, recorder };
}

/** Live session events a viewer received (snapshots left out), as `{seq, type}` in arrival order. */
function liveEvents(recorder: Recorder): Array<{ seq: number | undefined; type: unknown }> {
  return recorder
    .named<{ event?: { type?: unknown }; seq?: number; snapshot?: true }>("event")
    .filter((frame) => frame.snapshot !== true)
    .map((frame) => ({ seq: frame.seq, type: frame.event?.type }));
}

function eventTypes(recorder: Recorder): unknown[] {
  return liveEvents(recorder).map((e) => e.type);
}

async function viewerSees(recorder: Recorder, type: string): Promise<void> {
  await recorder.until(() => eventTypes(recorder).includes(type), `a ${type} event`);
}

/** socket-v1-acked CLIs got an ack function and called it; the others got no ack to call. */
function expectInputAsBuiltFor(generation: CliGeneration, received: ReceivedInput | undefined): void {
  if (generation === "socket-v1-acked") {
    expect(received).toMatchObject({ secondArgument: "function", acked: true });
  } else {
    // Their one-argument listener ignores what follows the payload (the recovery offset): no ack.
    expect(received?.secondArgument).not.toBe("function");
    expect(received?.acked).toBe(false);
  }
}

function expectConsecutiveSeqs(recorder: Recorder): void {
  const seqs = liveEvents(recorder).map((e) => e.seq ?? -1);
  expect(seqs.length).toBeGreaterThan(0);
  seqs.forEach((seq, i) => expect(seq).toBe((seqs[0] ?? 0) + i));
}

describe.each(CLI_GENERATIONS)("a %s CLI", (generation) => {
  it("connects with its generation's handshake, registers, and is recorded as its generation", async () => {
    const cli = await registeredCli(generation);
    const auth = cli.socket.auth as Record<string, unknown>;
    if (generation === "socket-unversioned") expect(auth).toEqual({ apiKey: key });
    else expect(auth).toEqual({ apiKey: key, protocolVersion: 1, clientVersion: expect.any(String) });
    expect(cli.registrations).toHaveLength(1);
    expect(cli.registered).toMatchObject({ sessionId: expect.any(String), token: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(recordedGeneration("/relay", cli.socket.id)).toBe(generation);
    // The field clients' connection: WebSocket only, socket.io-client reconnecting from 1 s up to 30 s.
    const manager = cli.socket.io;
    expect(manager.opts.transports).toEqual(["websocket"]);
    expect([manager.reconnection(), manager.reconnectionDelay(), manager.reconnectionDelayMax()]).toEqual([true, 1_000, 30_000]);
  });

  it("answers a viewer's arrival and publishes events the viewer receives in seq order, acknowledged", async () => {
    const cli = await registeredCli(generation);
    const { viewer, recorder } = await joinedViewer(cli.registered?.sessionId ?? "");
    expect(await viewer.emitWithAck("connected", {})).toEqual({ ok: true });
    await viewerSees(recorder, "session_active");
    for (let i = 1; i <= 5; i++) expect(cli.publish({ type: "message_update", text: `part ${i}` })).toBe(true);
    await recorder.until(() => liveEvents(recorder).length === 7, "seven live events");
    expect(eventTypes(recorder)).toEqual(["capabilities", "session_active", ...Array<string>(5).fill("message_update")]);
    expectConsecutiveSeqs(recorder);
    await waitFor(() => cli.ackedSeq === 7, "event_ack up to the CLI's seq 7");
    expect(cli.errors).toEqual([]);
  });

  it("receives a viewer's input as its generation expects, and publishes no cli_error", async () => {
    const cli = await registeredCli(generation);
    const { viewer, recorder } = await joinedViewer(cli.registered?.sessionId ?? "");
    expect(await viewer.emitWithAck("input", { text: "run the tests" })).toEqual({ ok: true });
    await waitFor(() => cli.inputs.length === 1, "the input to reach the CLI");
    expect(cli.inputs[0]?.input).toMatchObject({ text: "run the tests", attachments: [] });
    expectInputAsBuiltFor(generation, cli.inputs[0]);
    // Events arrive in seq order: a cli_error published by the input listener would come before this one.
    cli.publish({ type: "marker" });
    await viewerSees(recorder, "marker");
    expect(eventTypes(recorder)).not.toContain("cli_error");
    expect(cli.cliErrors).toEqual([]);
  });

  it("registers again on a recovered connection and keeps its session, seq restarting at 1", async () => {
    const cli = await registeredCli(generation, { reconnection: QUICK_RECONNECTION });
    const sessionId = cli.registered?.sessionId ?? "";
    const { viewer, recorder } = await joinedViewer(sessionId);
    cli.publish({ type: "before" });
    await viewerSees(recorder, "before");
    cli.socket.io.engine.close(); // a transport loss: socket.io-client reconnects and recovers
    await waitFor(() => cli.registrations.length === 2, "the second registration");
    expect(cli.socket.recovered).toBe(true);
    expect(cli.registrations[1]?.sessionId).toBe(sessionId);
    cli.publish({ type: "after" });
    await viewerSees(recorder, "after");
    await waitFor(() => cli.ackedSeq === 1, "event_ack of seq 1 of the new registration");
    expectConsecutiveSeqs(recorder);
    expect(recordedGeneration("/relay", cli.socket.id)).toBe(generation);
    // The recovered connection still gets input the way its generation was built for.
    expect(await viewer.emitWithAck("input", { text: "after the blip" })).toEqual({ ok: true });
    await waitFor(() => cli.inputs.length === 1, "the input to reach the recovered CLI");
    expectInputAsBuiltFor(generation, cli.inputs[0]);
    expect(cli.cliErrors).toEqual([]);
  });
});

describe("control: a socket-v1-acked CLI that the relay routes as socket-v1", () => {
  it("takes the recovery offset for its ack and publishes cli_error, as in the field", async () => {
    // clientVersion 0.5.7 is the last socket-v1 release: the relay sends `input` without an ack.
    const cli = await registeredCli("socket-v1-acked", { clientVersion: "0.5.7" });
    expect(recordedGeneration("/relay", cli.socket.id)).toBe("socket-v1");
    const { viewer, recorder } = await joinedViewer(cli.registered?.sessionId ?? "");
    expect(await viewer.emitWithAck("input", { text: "hello" })).toEqual({ ok: true });
    await viewerSees(recorder, "cli_error");
    expect(cli.inputs).toMatchObject([{ input: { text: "hello" }, secondArgument: "string", acked: false }]);
    expect(cli.cliErrors).toEqual([expect.stringContaining("is not a function")]);
  });
});

describe.each(VERSIONED_CLI_GENERATIONS)("a %s CLI sending events the relay does not serve", (generation) => {
  it("gets a prompt unknown_event refusal through the ack, and without an ack stays connected", async () => {
    const cli = await registeredCli(generation, { sessionFile: "/home/alice/.pizzapi/sessions/a.jsonl", parentSessionId: randomUUID() });
    const { reply, elapsedMs } = await cli.emitExtraWithAck("service_announce", { service: "preview", port: 5173 });
    expect(reply).toMatchObject({ ok: false, error: { code: "unknown_event", message: expect.any(String) } });
    expect(elapsedMs).toBeLessThan(500);

    cli.emitExtra("session_message", { sessionId: cli.registered?.sessionId, message: "hello" });
    // Frames are handled in order: the next event's ack proves the connection outlived the ignored one.
    cli.publish({ type: "message_update", text: "still here" });
    await waitFor(() => cli.ackedSeq === 1, "event_ack after the ignored event");
    expect(cli.socket.connected).toBe(true);
    expect(cli.registrations).toHaveLength(1);
    expect(cli.errors).toEqual([]);
  });
});

describe.each(RUNNER_GENERATIONS)("a $generation runner", ({ generation, newerRelease }) => {
  async function registeredRunner(): Promise<FieldRunner> {
    const runner = track(
      new FieldRunner({
        url: node.url,
        apiKey: key,
        generation,
        runnerId: randomUUID(),
        runnerSecret: randomBytes(16).toString("hex"),
        name: `${generation} box`,
        roots: ["/home/alice"],
        skills: [{ name: "deploy", description: "Ships it", filePath: "skills/deploy/SKILL.md", content: "# Deploy" }],
        extendedRegistration: newerRelease,
        spawnWorkers: true,
      }),
    ).start();
    await waitFor(() => runner.registrations.length === 1, `the ${generation} runner to register`);
    return runner;
  }

  const api = (path: string, method = "GET", body?: unknown): Promise<Response> =>
    fetch(`${node.url}${path}`, {
      method,
      headers: { "x-api-key": key, "content-type": "application/json" },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });

  it("is spawned on through REST; its worker CLI registers the session and publishes to its viewers", async () => {
    const runner = await registeredRunner();
    const runnerId = runner.registrations[0] ?? "";
    expect(recordedGeneration("/runner", runner.socket.id)).toBe(generation);
    if (newerRelease) runner.emitExtra("runner_warning", { message: "tunnel unavailable" });

    const res = await api("/api/runners/spawn", "POST", { runnerId });
    expect(res.status).toBe(200);
    const spawned = (await res.json()) as { ok: boolean; runnerId: string; sessionId: string; pending: boolean };
    expect(spawned).toEqual({ ok: true, runnerId, sessionId: expect.any(String), pending: false });
    expect(runner.commands).toContainEqual({ name: "new_session", payload: { sessionId: spawned.sessionId } });

    const worker = runner.workers.get(spawned.sessionId);
    if (!worker) throw new Error("the runner started no worker");
    await waitFor(() => worker.registered !== null, "the worker CLI to register");
    expect(worker.registered?.sessionId).toBe(spawned.sessionId);
    expect(recordedGeneration("/relay", worker.socket.id)).toBe(generation);

    const { recorder } = await joinedViewer(spawned.sessionId);
    worker.publish({ type: "message_update", text: "spawned and working" });
    await viewerSees(recorder, "message_update");
    expect(runner.errors).toEqual([]);
    expect(runner.socket.connected).toBe(true);
  });

  it("answers skill and terminal commands with plain frames", async () => {
    const runner = await registeredRunner();
    const runnerId = runner.registrations[0] ?? "";
    const skill = await api(`/api/runners/${runnerId}/skills/deploy`);
    expect(skill.status).toBe(200);
    expect(await skill.json()).toEqual({ name: "deploy", content: "# Deploy" });

    const created = await api("/api/runners/terminal", "POST", { runnerId, cols: 80, rows: 24 });
    const { terminalId } = (await created.json()) as { terminalId: string };
    const term = track(connectTerminal(node.url, { cookie }, terminalId));
    const recorder = new Recorder(term);
    await recorder.next("terminal_connected");
    term.emit("terminal_resize", { cols: 100, rows: 30 }); // the first resize spawns the PTY
    await recorder.next("terminal_ready");
    term.emit("terminal_input", { data: Buffer.from("ls\n").toString("base64") });
    expect((await recorder.next<{ data: string }>("terminal_data"))[0]?.data).toBe(Buffer.from("ls\n").toString("base64"));
    term.emit("kill_terminal", {});
    expect((await recorder.next<{ exitCode: number }>("terminal_exit"))[0]?.exitCode).toBe(0);
    expect(runner.errors).toEqual([]);
  });
});

describe("unknown protocol versions", () => {
  it.each([2, "2.0.0", "1"])("refuses protocolVersion %j with unsupported_protocol on /relay and /runner", async (protocolVersion) => {
    const cli = track(connectCli(node.url, key, { protocolVersion }));
    const runner = track(connectRunner(node.url, key, { protocolVersion, runnerId: randomUUID(), runnerSecret: "s" }));
    for (const socket of [cli, runner]) {
      const refusal = await connected(socket).then(
        () => null,
        (err: Error & { data?: unknown }) => err.data,
      );
      expect(refusal).toMatchObject({ code: "unsupported_protocol" });
    }
  });
});
