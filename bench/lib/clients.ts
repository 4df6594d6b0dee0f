import { io, type Socket } from "socket.io-client";
import WebSocket from "ws";
import { withTimeout } from "../../server/timeout.js";
import { PROTOCOL_VERSION, type RelayClientToServer, type RelayServerToClient, type ViewerClientToServer, type ViewerServerToClient } from "../../protocol/index.js";

/**
 * The bench's four client kinds: a CLI publishing one session and a viewer watching it, each native
 * (socket.io-client, `transports: ["websocket"]`) or legacy (a raw `ws` socket speaking the frames of
 * docs/legacy-protocol.md sections 2 and 3).
 */

export const CONNECT_TIMEOUT_MS = 20_000;

/** Problems a phase saw that are not event losses: refusals, unexpected closes. */
export interface Incidents {
  cliErrors: number;
  viewerErrors: number;
  unexpectedCloses: number;
  samples: string[];
}
export function note(inc: Incidents, what: string): void {
  if (inc.samples.length < 10) inc.samples.push(what);
}

export interface Publisher {
  sessionId: string;
  send(seq: number, event: Record<string, unknown>): void;
  close(): void;
}

type NativeCli = Socket<RelayServerToClient, RelayClientToServer>;
type NativeViewer = Socket<ViewerServerToClient, ViewerClientToServer>;
const socketOptions = { transports: ["websocket"], reconnection: false, forceNew: true, timeout: CONNECT_TIMEOUT_MS };

function nativeConnected(socket: Socket): Promise<void> {
  return new Promise((resolveConnect, reject) => {
    socket.once("connect", () => resolveConnect());
    socket.once("connect_error", (err: Error) => reject(err));
  });
}

export async function openNativeCli(url: string, apiKey: string, inc: Incidents): Promise<Publisher> {
  const socket: NativeCli = io(`${url}/relay`, { ...socketOptions, auth: { apiKey, protocolVersion: PROTOCOL_VERSION, clientVersion: "bench" } });
  let closing = false;
  try {
    await withTimeout(nativeConnected(socket), CONNECT_TIMEOUT_MS, "native CLI connect");
    const reply = await withTimeout(socket.emitWithAck("register", { cwd: "/bench", collabMode: true, sessionName: null }), CONNECT_TIMEOUT_MS, "native register");
    if (!reply.ok) throw new Error(`register refused: ${reply.error.code}`);
    socket.on("error", (e) => {
      inc.cliErrors++;
      note(inc, `native CLI error: ${e.code} ${e.message}`);
    });
    socket.on("disconnect", (reason) => {
      if (closing) return;
      inc.unexpectedCloses++;
      note(inc, `native CLI disconnected: ${reason}`);
    });
    return {
      sessionId: reply.sessionId,
      // Without an ack, as the legacy CLI sends: both stacks get the same `event_ack` back.
      send: (seq, event) => void socket.emit("event", { seq, event }),
      close: () => {
        closing = true;
        socket.disconnect(); // an explicit disconnect ends the session at once
      },
    };
  } catch (err) {
    socket.disconnect();
    throw err;
  }
}

function wsUrl(url: string, path: string): string {
  return `${url.replace(/^http/, "ws")}${path}`;
}

/**
 * Opens a legacy socket with its frame handler attached before anything can arrive: a first frame that
 * comes in the same read as the 101 response is emitted before a promise continuation could attach one.
 */
function openWs(url: string, headers: Record<string, string>, onFrame: (frame: Record<string, unknown>) => void): Promise<WebSocket> {
  const ws = new WebSocket(url, { headers, perMessageDeflate: false, handshakeTimeout: CONNECT_TIMEOUT_MS });
  ws.on("message", (data) => onFrame(JSON.parse(data.toString()) as Record<string, unknown>));
  return new Promise((resolveOpen, reject) => {
    ws.once("open", () => resolveOpen(ws));
    ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode} on ${url}`)));
    ws.once("error", (err) => reject(err));
  });
}

export async function openLegacyCli(url: string, apiKey: string, inc: Incidents): Promise<Publisher> {
  let onRegistered: (reg: { sessionId: string; token: string }) => void = () => undefined;
  let onRefused: (err: Error) => void = () => undefined;
  const registered = new Promise<{ sessionId: string; token: string }>((resolveReg, reject) => {
    onRegistered = resolveReg;
    onRefused = reject;
  });
  const ws = await openWs(wsUrl(url, "/ws/sessions"), { "x-api-key": apiKey }, (frame) => {
    if (frame.type === "registered" && typeof frame.sessionId === "string" && typeof frame.token === "string") onRegistered({ sessionId: frame.sessionId, token: frame.token });
    else if (frame.type === "error") {
      inc.cliErrors++;
      note(inc, `legacy CLI error: ${String(frame.message)}`);
      onRefused(new Error(`legacy CLI error: ${String(frame.message)}`));
    }
  });
  let closing = false;
  try {
    ws.once("close", (code, reason) => onRefused(new Error(`legacy CLI closed before registered: ${code} ${reason.toString()}`)));
    ws.send(JSON.stringify({ type: "register", cwd: "/bench", collabMode: true, sessionName: null }));
    const { sessionId, token } = await withTimeout(registered, CONNECT_TIMEOUT_MS, "legacy register");
    ws.on("close", (code, reason) => {
      if (closing) return;
      inc.unexpectedCloses++;
      note(inc, `legacy CLI closed: ${code} ${reason.toString()}`);
    });
    return {
      sessionId,
      send: (seq, event) => ws.send(JSON.stringify({ type: "event", sessionId, token, event, seq })),
      close: () => {
        closing = true;
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: "session_end", sessionId, token }));
        ws.close(1000);
      },
    };
  } catch (err) {
    ws.terminate();
    throw err;
  }
}

/** `publishedAt`: when the server broadcast it (native viewers only; legacy frames do not carry it). */
export type OnEvent = (seq: unknown, event: unknown, publishedAt?: number) => void;
export interface Watcher {
  close(): void;
}

export async function openNativeViewer(url: string, cookie: string, sessionId: string, onEvent: OnEvent, inc: Incidents): Promise<Watcher> {
  const socket: NativeViewer = io(`${url}/viewer`, {
    ...socketOptions,
    extraHeaders: { cookie },
    auth: { sessionId, protocolVersion: PROTOCOL_VERSION, clientVersion: "bench" },
  });
  let closing = false;
  socket.on("event", (frame) => onEvent(frame.seq, frame.event, frame.publishedAt));
  try {
    const hello = await withTimeout(
      new Promise<{ replayOnly?: true }>((resolveHello, reject) => {
        socket.once("connected", (payload) => resolveHello(payload));
        socket.once("connect_error", (err: Error) => reject(err));
      }),
      CONNECT_TIMEOUT_MS,
      "native viewer join",
    );
    if (hello.replayOnly) throw new Error("native viewer: session not live");
  } catch (err) {
    socket.disconnect();
    throw err;
  }
  socket.on("error", (e) => {
    inc.viewerErrors++;
    note(inc, `native viewer error: ${e.code} ${e.message}`);
  });
  socket.on("disconnected", (p) => note(inc, `native viewer told: ${p.reason}`));
  socket.on("disconnect", (reason) => {
    if (closing) return;
    inc.unexpectedCloses++;
    note(inc, `native viewer disconnected: ${reason}`);
  });
  return {
    close: () => {
      closing = true;
      socket.disconnect();
    },
  };
}

export async function openLegacyViewer(url: string, cookie: string, sessionId: string, onEvent: OnEvent, inc: Incidents): Promise<Watcher> {
  let onJoined: () => void = () => undefined;
  let onRefused: (err: Error) => void = () => undefined;
  const joined = new Promise<void>((resolveJoin, reject) => {
    onJoined = resolveJoin;
    onRefused = reject;
  });
  const ws = await openWs(wsUrl(url, `/ws/sessions/${sessionId}`), { cookie }, (frame) => {
    switch (frame.type) {
      case "event":
        onEvent(frame.seq, frame.event);
        return;
      case "connected":
        if (frame.replayOnly) onRefused(new Error("legacy viewer: session not live"));
        else onJoined();
        return;
      case "error":
        inc.viewerErrors++;
        note(inc, `legacy viewer error: ${String(frame.message)}`);
        return;
      case "disconnected":
        note(inc, `legacy viewer told: ${String(frame.reason)}`);
        return;
      default:
        return;
    }
  });
  let closing = false;
  try {
    ws.once("close", (code, reason) => onRefused(new Error(`legacy viewer closed before connected: ${code} ${reason.toString()}`)));
    await withTimeout(joined, CONNECT_TIMEOUT_MS, "legacy viewer join");
  } catch (err) {
    ws.terminate();
    throw err;
  }
  ws.on("close", (code, reason) => {
    if (closing) return;
    inc.unexpectedCloses++;
    note(inc, `legacy viewer closed: ${code} ${reason.toString()}`);
  });
  return {
    close: () => {
      closing = true;
      ws.close(1000);
    },
  };
}

