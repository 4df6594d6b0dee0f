import { randomBytes, randomUUID } from "node:crypto";
import { io, type Socket } from "socket.io-client";
import { expect } from "vitest";
import type {
  HubClientToServer,
  HubServerToClient,
  RelayClientToServer,
  RelayServerToClient,
  RunnerClientToServer,
  RunnerServerToClient,
  TerminalClientToServer,
  TerminalServerToClient,
  ViewerClientToServer,
  ViewerServerToClient,
} from "../../protocol/index.js";
import { PROTOCOL_VERSION } from "../../protocol/index.js";

export type CliSocket = Socket<RelayServerToClient, RelayClientToServer>;
export type ViewerSocket = Socket<ViewerServerToClient, ViewerClientToServer>;
export type HubSocket = Socket<HubServerToClient, HubClientToServer>;

import type { ManagerOptions, SocketOptions } from "socket.io-client";

const base: Partial<ManagerOptions & SocketOptions> = { transports: ["websocket"], reconnection: false, forceNew: true, timeout: 5_000 };

export function connectCli(url: string, apiKey: string, extra: Record<string, unknown> = {}): CliSocket {
  return io(`${url}/relay`, { ...base, auth: { apiKey, protocolVersion: PROTOCOL_VERSION, clientVersion: "test", ...extra } });
}

export interface BrowserCredentials {
  cookie?: string;
  apiKey?: string;
  origin?: string;
}

function browserOptions(creds: BrowserCredentials, auth: Record<string, unknown>) {
  const headers: Record<string, string> = {};
  if (creds.cookie) headers.cookie = creds.cookie;
  if (creds.origin) headers.origin = creds.origin;
  return {
    ...base,
    extraHeaders: headers,
    auth: { protocolVersion: PROTOCOL_VERSION, ...(creds.apiKey ? { apiKey: creds.apiKey } : {}), ...auth },
  };
}

export function connectViewer(url: string, creds: BrowserCredentials, sessionId: string, lastSeq?: number): ViewerSocket {
  return io(`${url}/viewer`, browserOptions(creds, { sessionId, ...(lastSeq !== undefined ? { lastSeq } : {}) }));
}

export function connectHub(url: string, creds: BrowserCredentials): HubSocket {
  return io(`${url}/hub`, browserOptions(creds, {}));
}

/** Resolves on `connect`, rejects with the typed connect_error data. */
export function connected(socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.connected) return resolve();
    socket.once("connect", () => resolve());
    socket.once("connect_error", (err: Error & { data?: unknown }) => reject(Object.assign(new Error(err.message), { data: err.data })));
  });
}

/**
 * Records every event a socket receives, in order, and lets a test wait for a condition with a short
 * real timeout (graphql-ws's queued test client, in spirit): no fake timers, no sleeps.
 */
export class Recorder {
  readonly events: Array<{ name: string; payload: unknown }> = [];
  private waiters: Array<() => void> = [];

  constructor(socket: Socket) {
    socket.onAny((name: string, payload: unknown) => {
      this.events.push({ name, payload });
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on("disconnect", (reason) => {
      this.events.push({ name: "$disconnect", payload: reason });
      for (const w of this.waiters.splice(0)) w();
    });
  }

  named<T = Record<string, unknown>>(name: string): T[] {
    return this.events.filter((e) => e.name === name).map((e) => e.payload as T);
  }

  async until(predicate: (events: Array<{ name: string; payload: unknown }>) => boolean, what: string, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.events)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.events.map((e) => e.name))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits until `count` events named `name` arrived; returns their payloads. */
  async next<T = Record<string, unknown>>(name: string, count = 1, timeoutMs = 5_000): Promise<T[]> {
    await this.until((events) => events.filter((e) => e.name === name).length >= count, `${count}× ${name}`, timeoutMs);
    return this.named<T>(name);
  }
}

/**
 * A viewer `event` payload without the relay's timing field `publishedAt` (docs/protocol.md): tests
 * compare what the CLI published. Live events must carry it as a recent epoch-ms number.
 */
export function withoutPublishedAt<T>(frame: T): T {
  if (typeof frame !== "object" || frame === null || !("publishedAt" in frame)) return frame;
  const { publishedAt, ...rest } = frame as Record<string, unknown>;
  if (typeof publishedAt !== "number" || Math.abs(Date.now() - publishedAt) > 60_000) throw new Error(`publishedAt is not a recent time: ${String(publishedAt)}`);
  return rest as T;
}

/** Session events in arrival order, as `{seq, type}` (the type of the inner event). */
export function seqs(recorder: Recorder): number[] {
  return recorder.named<{ seq?: number }>("event").map((e) => e.seq ?? -1);
}

export type RunnerSocket = Socket<RunnerServerToClient, RunnerClientToServer>;
export type TerminalSocket = Socket<TerminalServerToClient, TerminalClientToServer>;

export function connectRunner(url: string, apiKey: string, extra: Record<string, unknown> = {}): RunnerSocket {
  return io(`${url}/runner`, { ...base, auth: { apiKey, protocolVersion: PROTOCOL_VERSION, clientVersion: "test", ...extra } });
}

/**
 * A Socket.IO runner registered with `relay.key`, and an 80×24 terminal the browser's REST call opened
 * on it (the runner has not spawned it yet). `keep` gets the runner before anything is awaited, so the
 * caller's cleanup holds it even when a step fails.
 */
export async function runnerWithTerminal(
  relay: { node: { url: string }; key: string; cookie: string },
  keep: (runner: RunnerSocket) => void,
): Promise<{ runner: RunnerSocket; runnerRec: Recorder; runnerId: string; terminalId: string }> {
  const runner = connectRunner(relay.node.url, relay.key);
  keep(runner);
  const runnerRec = new Recorder(runner);
  await connected(runner);
  const runnerId = randomUUID();
  expect(await runner.emitWithAck("register_runner", { runnerId, runnerSecret: randomBytes(32).toString("hex"), name: "devbox" })).toEqual({ ok: true, runnerId });
  const res = await fetch(`${relay.node.url}/api/runners/terminal`, {
    method: "POST",
    headers: { cookie: relay.cookie, "content-type": "application/json" },
    body: JSON.stringify({ runnerId, cols: 80, rows: 24 }),
  });
  expect(res.status).toBe(200);
  const { terminalId } = (await res.json()) as { terminalId: string };
  return { runner, runnerRec, runnerId, terminalId };
}

export function connectTerminal(url: string, creds: BrowserCredentials, terminalId: string): TerminalSocket {
  return io(`${url}/terminal`, browserOptions(creds, { terminalId }));
}
