import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HubSession } from "../../clients/browser/index.js";
import { attachTerminal, listSessions, type TerminalView } from "../../examples/browser/hub-and-terminal.js";
import { connectCli, connected, runnerWithTerminal } from "../helpers/clients.js";
import { startRelayWithAlice, type TestRelay } from "../helpers/relay.js";
import { waitFor } from "../helpers/wait.js";

/** The README's hub and terminal snippets (examples/browser/hub-and-terminal.ts) against a relay. */
describe("examples/browser/hub-and-terminal.ts", () => {
  let relay: { node: TestRelay; key: string; cookie: string };
  const closers: Array<() => void> = [];
  beforeAll(async () => {
    relay = await startRelayWithAlice();
  });
  afterAll(async () => {
    for (const close of closers) close();
    await relay?.node.stop();
  });
  // In a page the login cookie goes along by itself; here it is a header.
  const asBrowser = () => ({ url: relay.node.url, ioOptions: { forceNew: true, extraHeaders: { cookie: relay.cookie } } });

  it("listSessions renders the user's live sessions", async () => {
    const cli = connectCli(relay.node.url, relay.key);
    closers.push(() => cli.disconnect());
    await connected(cli);
    const reg = await cli.emitWithAck("register", { cwd: "/example", sessionName: "Listed" });
    if (!reg.ok) throw new Error(reg.error.message);
    const rendered: HubSession[][] = [];
    const hub = listSessions(asBrowser(), (sessions) => rendered.push(sessions));
    closers.push(() => hub.close());
    await waitFor(() => rendered.length > 0, "the hub to render its list");
    expect(rendered[0]?.map((s) => s.sessionId)).toContain(reg.sessionId);
  });

  it("attachTerminal spawns the PTY at the view's size and streams both ways", async () => {
    const { runner, runnerRec, runnerId, terminalId } = await runnerWithTerminal(relay, (r) => closers.push(() => r.disconnect()));

    const written: string[] = [];
    let type: (keys: string) => void = () => undefined;
    const xterm: TerminalView = { cols: 120, rows: 33, write: (text) => written.push(text), onData: (listener) => (type = listener) };
    const term = attachTerminal(asBrowser(), terminalId, xterm);
    closers.push(() => term.close());
    expect(await runnerRec.next("new_terminal")).toEqual([{ terminalId, cols: 120, rows: 33 }]);
    runner.emit("terminal_ready", { terminalId, runnerId });
    runner.emit("terminal_data", { terminalId, runnerId, data: Buffer.from("hello").toString("base64") });
    await waitFor(() => written.join("") === "hello", "the output to reach the view");
    type("ls\r");
    expect(await runnerRec.next("terminal_input")).toEqual([{ terminalId, data: Buffer.from("ls\r").toString("base64") }]);
  });
});
