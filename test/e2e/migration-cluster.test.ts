import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { FieldCli, FieldRunner, type CliGeneration } from "../../clients/generations/index.js";
import { LegacyCliClient } from "../../clients/legacy/cli-client.js";
import { LegacyRunnerClient } from "../../clients/legacy/runner-client.js";
import { RelayClient } from "../../clients/socketio/cli-client.js";
import { RunnerClient } from "../../clients/socketio/runner-client.js";
import type { Generation } from "../../protocol/index.js";
import type { MigrationStatus } from "../../migration/status.js";
import { migrationStatusOf, setMode } from "../helpers/admin.js";
import { awaitMesh, clusterState, startNode, type NodeProcess } from "../helpers/cluster.js";
import { connectViewer, Recorder, type ViewerSocket } from "../helpers/clients.js";
import { LegacyClient } from "../helpers/legacy.js";
import { ackedUpTo, legacyCli, refusedUpgrade, sendLegacyEvents } from "../helpers/legacy-flows.js";
import { startRedis, uniquePrefix, type TestRedis } from "../helpers/redis.js";
import { upgradeAnswer } from "../helpers/upgrade.js";
import { sleep, waitFor } from "../helpers/wait.js";

/**
 * The migration plane on three nodes over one Redis (docs/migration.md), the done-when of the rollout:
 * every client generation works across nodes and is counted under its generation; the status names
 * exactly who is still on legacy and turns safe once they are gone; a mode flip issued on one node is
 * applied by the others within 5 s, drain keeping live legacy sessions and off closing them with nothing
 * acknowledged lost.
 */

const ROOT = resolve(import.meta.dirname, "../..");
const FLUSH_MS = 300;
let redis: TestRedis;
let A: NodeProcess, B: NodeProcess, C: NodeProcess;
let admin: string;
let keys: Record<string, string>;
let closeState: () => Promise<void>;
const stops: Array<() => void> = [];
const keep = <T>(client: T, stop: (c: T) => void): T => (stops.push(() => stop(client)), client);

beforeAll(async () => {
  redis = await startRedis();
  const prefix = uniquePrefix();
    // A grace long enough that `off` closes the flip test's live legacy viewer before its session ends.
  const env = { PIZZAPI_CENSUS_FLUSH_MS: String(FLUSH_MS), PIZZAPI_CLI_RECONNECT_GRACE_MS: "3000" };
  [A, B, C] = (await Promise.all(["A", "B", "C"].map((name) => startNode({ name, redisUrl: redis.url, prefix, env })))) as [NodeProcess, NodeProcess, NodeProcess];
  await awaitMesh([A, B, C]);
  const shared = await clusterState(redis.url, prefix);
  closeState = shared.close;
  admin = (await shared.state.keys.create({ userId: "ops", userName: "Ops", admin: true })).key;
  keys = {};
  for (const user of ["u-legacy", "u-unversioned", "u-v1", "u-v1-acked", "u-current", "leg-a", "leg-b", "nat-a", "flip"]) {
    keys[user] = (await shared.state.keys.create({ userId: user, userName: user })).key;
  }
}, 60_000);
afterEach(async () => {
  for (const stop of stops.splice(0)) stop();
  for (const g of ["legacy", "socket-v1"]) await setMode(A.url, admin, g, null);
});
afterAll(async () => {
  for (const stop of stops.splice(0)) stop();
  await Promise.all([A, B, C].map((n) => n?.stop()));
  await closeState?.();
  await redis?.stop();
});

const key = (user: string): string => keys[user] ?? "";
const spawnOn = (node: NodeProcess, user: string, runnerId: string) =>
  fetch(`${node.url}/api/runners/spawn`, { method: "POST", headers: { "x-api-key": key(user), "content-type": "application/json" }, body: JSON.stringify({ runnerId }) }).then(
    async (res) => ({ status: res.status, json: (await res.json()) as { sessionId?: string; pending?: boolean } }),
  );

/** A viewer (this relay's browser client generation) of a session, joined. */
async function viewerOf(node: NodeProcess, user: string, sessionId: string): Promise<{ viewer: ViewerSocket; rec: Recorder }> {
  const viewer = keep(connectViewer(node.url, { apiKey: key(user) }, sessionId), (v) => v.disconnect());
  const rec = new Recorder(viewer);
  await rec.next("synced");
  return { viewer, rec };
}

const eventTexts = (rec: Recorder): unknown[] => rec.named<{ event?: { text?: unknown } }>("event").map((e) => e.event?.text);

function generationOf(status: MigrationStatus, generation: Generation) {
  const found = status.generations.find((g) => g.generation === generation);
  if (!found) throw new Error(`no ${generation} in the status`);
  return found;
}

/** Runs `pizzapi-relay migration status` against a node: its exit code and what it printed. */
function statusCommand(node: NodeProcess, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ["bin/pizzapi-relay.js", "migration", "status", "--url", node.url, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", PIZZAPI_ADMIN_KEY: admin },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.on("error", fail);
    child.on("exit", (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

describe("every client generation, across three nodes", () => {
  /**
   * For one generation: a runner on B, spawned on through REST on C; its worker CLI on A registers the
   * session and publishes; a viewer on C sees it; the viewer's input reaches the worker. Returns the
   * worker's input as it arrived (for the acked generation: acknowledged).
   */
  async function spawnAndDrive(generation: Generation, user: string): Promise<{ runnerId: string; inputs: () => unknown[] }> {
    const runnerId = `runner-${generation}-${randomBytes(3).toString("hex")}`;
    const runnerSecret = randomBytes(16).toString("hex");
    let worker: { publish(text: string): void; inputs(): unknown[] } | null = null;

    if (generation === "legacy") {
      const runner = keep(new LegacyRunnerClient({ relayUrl: B.url, apiKey: key(user), runnerId, runnerSecret, name: "legacy box", roots: ["/"] }), (r) => r.stop());
      runner.on("frame", (frame: Record<string, unknown>) => {
        if (frame.type !== "new_session" || typeof frame.sessionId !== "string") return;
        runner.send({ type: "session_ready", sessionId: frame.sessionId });
        const cli = keep(new LegacyCliClient({ relayUrl: A.url, apiKey: key(user), sessionId: frame.sessionId, heartbeatMs: 60_000 }), (c) => c.stop());
        const inputs: unknown[] = [];
        cli.on("input", (input: unknown) => inputs.push(input));
        cli.start();
        worker = { publish: (text) => void cli.forward({ type: "message_update", text }), inputs: () => inputs };
      });
      runner.start();
      await waitFor(() => runner.runnerId !== null, "the legacy runner registered");
    } else if (generation === "current") {
      const runner = keep(
        new RunnerClient({
          url: B.url,
          apiKey: key(user),
          runnerId,
          runnerSecret,
          name: "current box",
          roots: ["/"],
          handlers: {
            new_session: ({ sessionId }) => {
              const cli = keep(new RelayClient({ url: A.url, apiKey: key(user), session: { sessionId, cwd: "/" } }), (c) => c.close());
              const inputs: unknown[] = [];
              cli.on("input", (input) => inputs.push(input));
              cli.start();
              worker = { publish: (text) => cli.publish({ type: "message_update", text }), inputs: () => inputs };
              return { ok: true };
            },
          },
        }),
        (r) => r.close(),
      );
      await new Promise<void>((done) => runner.once("registered", () => done()));
    } else {
      // The acked CLI builds are spawned by the newest socket-v1 daemons.
      const runnerGeneration = generation === "socket-v1-acked" ? "socket-v1" : generation;
      const runner = keep(
        new FieldRunner({
          url: B.url,
          apiKey: key(user),
          generation: runnerGeneration,
          runnerId,
          runnerSecret,
          roots: ["/"],
          spawnWorkers: true,
          worker: { url: A.url, generation: generation as CliGeneration, ...(generation === "socket-v1-acked" ? { clientVersion: "0.6.2" } : {}) },
        }).start(),
        (r) => r.stop(),
      );
      await waitFor(() => runner.registrations.length === 1, `the ${runnerGeneration} runner registered`);
      const wait = async (): Promise<void> => {
        await waitFor(() => runner.workers.size === 1, "the worker spawned");
      };
      const spawned = spawnOn(C, user, runnerId);
      await wait();
      const [cli] = [...runner.workers.values()] as [FieldCli];
      worker = { publish: (text) => void cli.publish({ type: "message_update", text }), inputs: () => cli.inputs };
      const answer = await spawned;
      expect(answer.status).toBe(200);
      return finish(answer.json.sessionId ?? "");
    }
    const answer = await spawnOn(C, user, runnerId);
    expect(answer.status).toBe(200);
    return finish(answer.json.sessionId ?? "");

    async function finish(sessionId: string): Promise<{ runnerId: string; inputs: () => unknown[] }> {
      expect(sessionId).not.toBe("");
      await waitFor(() => worker !== null, "the worker started");
      const w = worker as unknown as { publish(text: string): void; inputs(): unknown[] };
      // The worker registers the spawned session on its own time: the viewer joins once it is live.
      await waitFor(async () => {
        const res = await fetch(`${C.url}/api/sessions`, { headers: { "x-api-key": key(user) } });
        return ((await res.json()) as { sessions: Array<{ sessionId: string }> }).sessions.some((x) => x.sessionId === sessionId);
      }, `the ${generation} worker's session live`);
      const { viewer, rec } = await viewerOf(C, user, sessionId);
      w.publish(`hello from ${generation}`);
      await rec.until(() => eventTexts(rec).includes(`hello from ${generation}`), `the ${generation} worker's event on the viewer`);
      expect(await viewer.emitWithAck("input", { text: `input for ${generation}` })).toEqual({ ok: true });
      await waitFor(() => w.inputs().length >= 1, `the input at the ${generation} worker`);
      return { runnerId, inputs: w.inputs };
    }
  }

  it("connects, publishes, is viewed, takes input and is spawned on through REST, each counted under its generation", async () => {
    const runners: Partial<Record<Generation, string>> = {};
    const plan: Array<[Generation, string]> = [
      ["legacy", "u-legacy"],
      ["socket-unversioned", "u-unversioned"],
      ["socket-v1", "u-v1"],
      ["socket-v1-acked", "u-v1-acked"],
      ["current", "u-current"],
    ];
    for (const [generation, user] of plan) {
      const driven = await spawnAndDrive(generation, user);
      runners[generation] = driven.runnerId;
      if (generation === "socket-v1-acked") expect(driven.inputs()[0]).toMatchObject({ secondArgument: "function", acked: true });
    }

    // The acked CLI builds were spawned by a socket-v1 daemon: socket-v1 counts two runners.
    const runnersOf = (generation: Generation): number => (generation === "socket-v1-acked" ? 0 : generation === "socket-v1" ? 2 : 1);
    // Each generation counted under its own name, across the nodes, by kind (each node reports every flush).
    await waitFor(async () => {
      const status = await migrationStatusOf(B.url, admin);
      const viewers = generationOf(status, "current").live.byKind.viewer ?? 0;
      return (
        viewers === plan.length &&
        plan.every(([generation, user]) => {
          const g = generationOf(status, generation);
          return (g.live.byKind.cli ?? 0) >= 1 && (g.live.byKind.runner ?? 0) === runnersOf(generation) && g.seen.subjects.some((s) => s.kind === "user" && s.id === user);
        })
      );
    }, "every generation live and seen", 10_000);
    const status = await migrationStatusOf(B.url, admin);
    expect(status.nodes.map((n) => n.nodeId)).toEqual(["A", "B", "C"]);
    for (const [generation, user] of plan) {
      const g = generationOf(status, generation);
      expect(g.live.byNode.A ?? 0, `${generation} CLI on A`).toBeGreaterThanOrEqual(1);
      const runners = runnersOf(generation);
      expect(g.live.byKind.runner ?? 0, `${generation} runners`).toBe(runners);
      expect(g.live.byNode.B ?? 0, `${generation} runners on B`).toBe(runners);
      // The acked CLIs' user also runs a socket-v1 daemon: that user is on both generations.
      // The viewers of every user are this relay's browser clients: all are seen on current.
      const users = generation === "socket-v1" ? ["u-v1", "u-v1-acked"] : generation === "current" ? plan.map(([, u]) => u).sort() : [user];
      expect(g.seen.subjects.filter((s) => s.kind === "user").map((s) => s.id).sort()).toEqual(users);
    }
    // The viewers are this relay's browser clients: current, on C.
    expect(generationOf(status, "current").live.byKind.viewer).toBe(5);
    expect(generationOf(status, "legacy").live.byTransport).toEqual({ "legacy-ws": 2 });
    expect(generationOf(status, "socket-v1-acked").seen.subjects[0]?.clientVersions).toEqual(["0.6.2"]);
  });
});

describe("migration status names who is still on legacy", () => {
  it("names exactly the legacy users and runners; once they are gone and the window has passed, it says safe and exits 0", async () => {
    keep(await legacyCli(A.url, key("leg-a")), (c) => c.client.close());
    const hub = keep(await LegacyClient.open(B.url, "/ws/hub", { "x-api-key": key("leg-b") }), (c) => c.close());
    await hub.next("sessions");
    const runnerId = `legacy-runner-${randomBytes(3).toString("hex")}`;
    const runner = keep(new LegacyRunnerClient({ relayUrl: C.url, apiKey: key("leg-b"), runnerId, runnerSecret: randomBytes(16).toString("hex") }), (r) => r.stop());
    runner.start();
    await waitFor(() => runner.runnerId !== null, "the legacy runner registered");
    // Native clients of another user must not be named.
    const native = keep(new RelayClient({ url: B.url, apiKey: key("nat-a"), session: { cwd: "/" } }), (c) => c.close());
    native.start();
    await new Promise<void>((done) => native.once("registered", () => done()));

    const window = "6s";
    let legacy = generationOf(await migrationStatusOf(C.url, admin, window), "legacy");
    await waitFor(async () => {
      legacy = generationOf(await migrationStatusOf(C.url, admin, window), "legacy");
      return legacy.live.total === 3 && legacy.seen.total === 3;
    }, "the legacy clients counted", 10_000);
    expect(legacy.seen.subjects.map((s) => `${s.kind}:${s.id}`).sort()).toEqual(["runner:" + runnerId, "user:leg-a", "user:leg-b"].sort());
    expect(legacy.seen.subjects.find((s) => s.id === "leg-b")?.clientKinds).toEqual(["hub", "runner"]);
    expect(legacy.live.byKind).toEqual({ cli: 1, hub: 1, runner: 1 });
    expect(legacy.verdict.safeToTurnOff).toBe(false);
    expect(legacy.verdict.reasons.join(" ")).toMatch(/3 live connections/);

    const notYet = await statusCommand(A, ["--window", window]);
    expect(notYet.code).toBe(1);
    expect(notYet.stdout).toMatch(/legacy is NOT safe to turn off/);
    expect(notYet.stdout, notYet.stdout).toMatch(/user leg-a/);

    const leaving = Date.now();
    for (const stop of stops.splice(0)) stop();
    await waitFor(async () => generationOf(await migrationStatusOf(C.url, admin, window), "legacy").live.total === 0, "the legacy clients gone", 10_000);
    // They were seen when they left: within the window, not safe yet (asked over REST: a CLI process
    // takes seconds to start on a loaded machine, the window is short).
    const gone = generationOf(await migrationStatusOf(B.url, admin, window), "legacy");
    expect(gone.verdict.safeToTurnOff).toBe(false);
    expect(gone.verdict.reasons.join(" ")).toMatch(/seen within the last 6s: .*user leg-a/);
    await sleep(Math.max(0, leaving + 6_000 + 2 * FLUSH_MS + 500 - Date.now()));
    const safe = await statusCommand(B, ["--window", window, "--json"]);
    expect(safe.stderr).toBe("");
    expect(safe.code).toBe(0);
    const parsed = JSON.parse(safe.stdout) as MigrationStatus;
    expect(generationOf(parsed, "legacy").verdict).toEqual({ safeToTurnOff: true, reasons: [] });
    // With the default window (7 days) the same legacy users are still remembered: not safe.
    expect((await statusCommand(C, [])).code).toBe(1);
  });
});

describe("a mode flip on one node", () => {
  it("is applied by the other nodes within 5 s; drain keeps live legacy sessions, off closes them with nothing acknowledged lost", async () => {
    const cli = keep(await legacyCli(A.url, key("flip")), (c) => c.client.close());
    const { rec: native } = await viewerOf(C, "flip", cli.sessionId);
    // A legacy browser watching a native CLI's session: off closes it, the session goes on.
    const nativeCli = keep(new RelayClient({ url: A.url, apiKey: key("flip"), session: { cwd: "/" } }), (c) => c.close());
    nativeCli.start();
    const nativeSession = await new Promise<string>((done) => nativeCli.once("registered", ({ sessionId }) => done(sessionId)));
    const legacyViewer = keep(await LegacyClient.open(B.url, `/ws/sessions/${nativeSession}`, { "x-api-key": key("flip") }), (c) => c.close());
    await legacyViewer.next("connected");

    /** Time until `node` answers a new legacy hub with `status`, measured from `since`. */
    const appliedWithin = async (node: NodeProcess, status: number, since: number): Promise<number> => {
      await waitFor(async () => (await upgradeAnswer(node.url, "/ws/hub", { "x-api-key": key("flip") })).status === status, `${node.name} answering ${status}`, 8_000);
      return Date.now() - since;
    };

    const drainAt = Date.now();
    await setMode(A.url, admin, "legacy", "drain");
    const drainB = await appliedWithin(B, 410, drainAt);
    const drainC = await appliedWithin(C, 410, drainAt);
    expect(drainB).toBeLessThan(5_000);
    expect(drainC).toBeLessThan(5_000);

    // The live legacy session keeps working: events flow, its CLI may reconnect (to another node) and
    // register the same id again; a new legacy session is refused.
    sendLegacyEvents(cli, Array.from({ length: 10 }, (_, i) => ({ type: "message_update", text: `d${i + 1}` })));
    await ackedUpTo(cli, 10);
    cli.client.close();
    const again = keep(await legacyCli(C.url, key("flip"), { sessionId: cli.sessionId }), (c) => c.client.close());
    expect(again.sessionId).toBe(cli.sessionId);
    sendLegacyEvents(again, Array.from({ length: 10 }, (_, i) => ({ type: "message_update", text: `e${i + 1}` })));
    await ackedUpTo(again, 10);
    const fresh = keep(await LegacyClient.open(B.url, "/ws/sessions", { "x-api-key": key("flip") }), (c) => c.close());
    fresh.send({ type: "register", cwd: "/new" });
    expect((await fresh.closedWith()).code).toBe(1008);
    expect((await refusedUpgrade(C.url, "/ws/runner", { "x-api-key": key("flip") })).status).toBe(410);

    const offAt = Date.now();
    await setMode(A.url, admin, "legacy", "off");
    const closedAfter = await again.client.closedWith(8_000).then(() => Date.now() - offAt);
    expect(closedAfter).toBeLessThan(5_000);
    const viewerClose = await legacyViewer.closedWith(8_000);
    expect(viewerClose).toEqual({ code: 1008, reason: expect.stringContaining("legacy is retired") });
    expect(await appliedWithin(B, 410, offAt)).toBeLessThan(5_000);

    // Every acknowledged event reached the native viewer on C, once, in order.
    const expected = [...Array.from({ length: 10 }, (_, i) => `d${i + 1}`), ...Array.from({ length: 10 }, (_, i) => `e${i + 1}`)];
    await native.until(() => expected.every((t) => eventTexts(native).includes(t)), "every acknowledged event on the native viewer", 8_000);
    expect(eventTexts(native).filter((t) => typeof t === "string" && /^[de]\d+$/.test(t))).toEqual(expected);

    // Every live node reports the mode applied.
    await waitFor(async () => generationOf(await migrationStatusOf(B.url, admin), "legacy").applied.everywhere, "off applied everywhere");
    const legacy = generationOf(await migrationStatusOf(B.url, admin), "legacy");
    expect(legacy.applied.nodes).toEqual([
      { nodeId: "A", mode: "off" },
      { nodeId: "B", mode: "off" },
      { nodeId: "C", mode: "off" },
    ]);
    expect(legacy.mode).toMatchObject({ mode: "off", source: "runtime", changedBy: expect.stringMatching(/^ops /) });
  });
});
