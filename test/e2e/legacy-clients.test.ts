import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LegacyHubClient, LegacyTerminalClient, LegacyViewerClient } from "../../clients/legacy/browser-clients.js";
import { LegacyCliClient } from "../../clients/legacy/cli-client.js";
import { LegacyRunnerClient } from "../../clients/legacy/runner-client.js";
import type { Frame } from "../../clients/legacy/socket.js";
import { TestProxy } from "../helpers/proxy.js";
import { startRelayWithAlice, type TestRelay } from "../helpers/relay.js";

const frames = (client: { on(event: "frame", fn: (f: Frame) => void): unknown }): Frame[] => {
  const out: Frame[] = [];
  client.on("frame", (f) => out.push(f));
  return out;
};
async function until(check: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The v0.1.x viewer, hub, runner and terminal clients against a real relay (docs/legacy-protocol.md 10). */
describe("legacy browser and runner clients", () => {
  let node: TestRelay;
  let key: string;
  let cookie: string;

  beforeAll(async () => {
    ({ node, key, cookie } = await startRelayWithAlice());
  });
  afterAll(async () => node.stop());

  it("the viewer answers connected with connected and tracks seq; the hub reconnects with its backoff", async () => {
    const proxy = new TestProxy(node.port);
    const lb = await proxy.start();
    const hub = new LegacyHubClient(lb, cookie, 0.05);
    const hubFrames = frames(hub);
    hub.start();
    await until(() => hubFrames.some((f) => f.type === "sessions"), "the hub's sessions");
    const cli = new LegacyCliClient({ relayUrl: node.url, apiKey: key, cwd: "/p", heartbeatMs: 60_000 });
    cli.start();
    await until(() => cli.registered !== null, "registered");
    await new Promise((r) => setTimeout(r, 50));
    const viewer = new LegacyViewerClient(node.url, cookie, cli.sessionId);
    const viewerFrames = frames(viewer);
    let cliConnected = 0;
    cli.on("connected", () => (cliConnected += 1));
    viewer.start();
    await until(() => cliConnected === 1, "the viewer's connected reaching the CLI");
    // The CLI answers with capabilities and session_active: seq 3 and 4, no gap, no resync.
    await until(() => viewer.lastSeq === 4, "seq 4");
    expect(viewer.resyncs).toBe(0);
    expect(viewerFrames[0]).toMatchObject({ type: "connected", sessionId: cli.sessionId, lastSeq: 2 });

    // The hub loses its connection and comes back by itself, listing the session again.
    proxy.dropAll();
    await until(() => hubFrames.filter((f) => f.type === "sessions").length === 2, "the hub's second sessions");
    const second = hubFrames.filter((f) => f.type === "sessions")[1] as { sessions: Array<{ sessionId: string }> };
    expect(second.sessions.map((s) => s.sessionId)).toEqual([cli.sessionId]);
    cli.stop();
    await until(() => viewerFrames.some((f) => f.type === "disconnected"), "disconnected");
    hub.stop();
    viewer.stop();
    await proxy.stop();
  });

  it("the runner registers its identity on every open; the terminal spawns with its size and types base64", async () => {
    const proxy = new TestProxy(node.port);
    const lb = await proxy.start();
    const runnerId = "1e9ac71e-0000-4000-8000-000000000001";
    const runner = new LegacyRunnerClient({ relayUrl: lb, apiKey: key, runnerId, runnerSecret: "f".repeat(64), name: "devbox", roots: ["/home/alice"], backoffScale: 0.05 });
    const runnerFrames = frames(runner);
    runner.start();
    await until(() => runner.runnerId === runnerId, "runner_registered");
    proxy.dropAll();
    await until(() => runnerFrames.filter((f) => f.type === "runner_registered").length === 2, "the re-registration");

    const created = (await (
      await fetch(`${node.url}/api/runners/terminal`, { method: "POST", headers: { cookie, "content-type": "application/json" }, body: JSON.stringify({ runnerId }) })
    ).json()) as { terminalId: string };
    const terminal = new LegacyTerminalClient(node.url, cookie, created.terminalId, { cols: 132, rows: 38 });
    terminal.start();
    await until(() => runnerFrames.some((f) => f.type === "new_terminal"), "new_terminal");
    expect(runnerFrames.find((f) => f.type === "new_terminal")).toEqual({ type: "new_terminal", terminalId: created.terminalId, cols: 132, rows: 38 });
    terminal.input("ls\r");
    await until(() => runnerFrames.some((f) => f.type === "terminal_input"), "terminal_input");
    expect(runnerFrames.find((f) => f.type === "terminal_input")).toEqual({ type: "terminal_input", data: "bHMN", terminalId: created.terminalId });
    terminal.stop();
    runner.stop();
    await proxy.stop();
  });
});
