import { RelayClient } from "./cli-client.js";

export interface DemoOptions {
  url: string;
  apiKey: string;
  /** Stop after this many conversation events (default: until stopped). */
  count?: number | undefined;
  intervalMs?: number;
  /** Resolves when the demo should stop (e.g. Ctrl-C). */
  stop?: Promise<void>;
  out?: (line: string) => void;
  err?: (line: string) => void;
}

/**
 * A readable conversation in the agent event shapes a viewer renders (docs/legacy-protocol.md, the agent
 * events): a user message, assistant messages and a tool call, numbered by round.
 */
export function demoEvent(n: number): Record<string, unknown> {
  const round = Math.floor(n / 5) + 1;
  const user = (text: string) => ({ type: "message_end", message: { role: "user", content: [{ type: "text", text }] } });
  const assistant = (text: string) => ({ type: "message_end", message: { role: "assistant", content: [{ type: "text", text }] } });
  const toolCallId = `demo-${round}`;
  switch (n % 5) {
    case 0:
      return user(`Round ${round}: what is in this project's README?`);
    case 1:
      return assistant("Let me read it.");
    case 2:
      return { type: "tool_execution_start", toolCallId, toolName: "read", args: { path: "README.md" } };
    case 3:
      return { type: "tool_execution_end", toolCallId, toolName: "read", result: { content: [{ type: "text", text: "# pizzapi-relay …" }] }, isError: false };
    default:
      return assistant(`Round ${round}: it describes a relay for live AI coding sessions.`);
  }
}

/**
 * `pizzapi-relay demo`: registers a CLI session with RelayClient, prints its shareUrl, and publishes the
 * demo conversation every `intervalMs` until `stop` resolves or `count` events are published. A viewer's
 * `input` is echoed back as a user message and an answer. Returns the exit code.
 */
export async function runDemo(options: DemoOptions): Promise<number> {
  const out = options.out ?? ((line: string) => void process.stdout.write(`${line}\n`));
  const err = options.err ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const cli = new RelayClient({ url: options.url, apiKey: options.apiKey, session: { cwd: process.cwd(), sessionName: "pizzapi-relay demo" } });
  let published = 0;
  let registered = false;
  let failed: string | null = null;
  let wake: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => {
    wake = resolve;
    void options.stop?.then(resolve);
  });
  cli.on("status", (s) => {
    if (s.state !== "failed") return;
    failed = s.reason;
    wake();
  });
  cli.on("registered", ({ shareUrl }) => {
    if (!registered) out(`watch at ${shareUrl}`);
    registered = true;
  });
  // The conversation so far: the fresh state a new viewer asks for (`viewer_connected`).
  const messages: unknown[] = [];
  const publish = (event: Record<string, unknown>): void => {
    if (event.type === "message_end") messages.push(event.message);
    cli.publish(event);
  };
  cli.on("viewer_connected", () => cli.publish({ type: "session_active", state: { sessionName: "pizzapi-relay demo", messages } }));
  cli.on("input", ({ text }) => {
    publish({ type: "message_end", message: { role: "user", content: [{ type: "text", text }] } });
    publish({ type: "message_end", message: { role: "assistant", content: [{ type: "text", text: `You said: ${text}` }] } });
  });
  cli.start();
  const interval = options.intervalMs ?? 2_000;
  const timer = setInterval(() => {
    if (!registered) return;
    publish(demoEvent(published));
    published += 1;
    out(`published ${published}${options.count !== undefined ? `/${options.count}` : ""}`);
    if (options.count !== undefined && published >= options.count) wake();
  }, interval);
  await stopped;
  clearInterval(timer);
  if (failed !== null) {
    err(`demo: the relay refused the connection: ${failed}`);
    cli.close();
    return 1;
  }
  const ended = await cli.end();
  if (!ended.ok) {
    err(`demo: the session was not ended: ${ended.error.message}`);
    return 1;
  }
  out("session ended");
  return 0;
}
