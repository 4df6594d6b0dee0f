import { io, type Socket } from "socket.io-client";
import type { ErrorBody } from "../../protocol/errors.js";
import type { RunnerSessionFrame, ViewerClientToServer, ViewerConnected, ViewerServerToClient } from "../../protocol/namespaces/viewer.js";
import type { Attachment, DisconnectReason, SessionEventFrame } from "../../protocol/shared.js";
import type { ConnectionStatus } from "../socketio/status.js";
import { BrowserClient, namespaceUrl, RelayError, settle, socketOptions, StatusFeed, type BaseClientOptions } from "./shared.js";

export type ViewerSocket = Socket<ViewerServerToClient, ViewerClientToServer>;
export type ExecResult = Parameters<ViewerServerToClient["exec_result"]>[0];

/** One session event as the viewer client delivers it. */
export interface ViewerEvent {
  /** The agent event (opaque to the relay). */
  event: unknown;
  seq: number;
  /** The state as of `seq` (join snapshot, `resync`), not a new event: replace what is shown, don't append. */
  snapshot?: true;
  /** The last state of an ended session (a replay-only join); `seq` is only the client's last position. */
  replay?: true;
}

export interface ViewerClientOptions extends BaseClientOptions {
  sessionId: string;
  /** The last seq this page rendered (e.g. kept across a reload): the relay replays only what follows it. */
  lastSeq?: number;
  /** How long `exec()` waits for the CLI's `exec_result` (default 60 s). */
  execTimeoutMs?: number;
}

export interface ViewerClientEvents {
  status: (status: ConnectionStatus) => void;
  /** The relay accepted the join (every non-recovered connection); `replayOnly`: the session has ended. */
  connected: (info: ViewerConnected) => void;
  /** A fresh snapshot follows (no resume point, or the log no longer reached back): reset the view to it. */
  snapshot: (info: { sessionId: string; seq: number }) => void;
  /** Session events, each exactly once and in seq order (snapshot frames may repeat the current seq). */
  event: (event: ViewerEvent) => void;
  /** The join is complete: `lastSeq` is where the live events continue from. */
  synced: (info: { sessionId: string; lastSeq: number }) => void;
  exec_result: (result: ExecResult) => void;
  session_ready: (frame: RunnerSessionFrame) => void;
  session_error: (frame: RunnerSessionFrame) => void;
  session_killed: (frame: RunnerSessionFrame) => void;
  /** The session ended (or expired, or is replay-only): the relay closes the connection; no reconnection. */
  ended: (reason: DisconnectReason) => void;
  error: (error: ErrorBody) => void;
}

/**
 * Where the viewer is in a connection's join sequence:
 * - handshake: connected, `connected` not received yet (live events may already arrive: held);
 * - joining: snapshot or replayed events until `synced` (out-of-order events held until it);
 * - live: every event must be lastSeq + 1; a gap makes the viewer re-join from lastSeq.
 */
type Phase = "handshake" | "joining" | "live";

interface Held {
  event: unknown;
  seq: number;
}

interface PendingExec {
  resolve: (result: ExecResult) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * `/viewer`: watches and drives one session. Events are delivered exactly once and in seq order across
 * any disconnection:
 * - when Socket.IO's connection state recovery succeeds, it replays the missed packets itself;
 * - otherwise the handshake (a function, so every reconnection sends the current `lastSeq`) makes the
 *   relay replay the events after `lastSeq`, or send a fresh snapshot when its log no longer reaches back;
 * - events at or below `lastSeq` are duplicates and dropped;
 * - a live event beyond `lastSeq + 1` means one was stored but never delivered (e.g. a relay node died
 *   between the two): the viewer re-joins from `lastSeq`, discarding out-of-order events meanwhile.
 */
export class ViewerClient extends BrowserClient<ViewerSocket, ViewerClientEvents> {
  readonly sessionId: string;
  readonly socket: ViewerSocket;
  protected readonly feed: StatusFeed;
  /** Re-joins made to fill a gap (diagnostics). */
  rejoins = 0;
  private position: number;
  private known: boolean;
  private freshSnapshot = false;
  private phase: Phase = "handshake";
  private readonly held = new Map<number, Held>();
  private readonly execs = new Map<string, PendingExec>();
  private readonly execTimeoutMs: number;
  private execCount = 0;
  private rejoinFrom = -1;
  private stalls = 0;

  constructor(options: ViewerClientOptions) {
    super();
    // Set before the socket exists: the auth function may run at once on an already open connection.
    this.sessionId = options.sessionId;
    this.position = options.lastSeq ?? 0;
    this.known = options.lastSeq !== undefined;
    this.execTimeoutMs = options.execTimeoutMs ?? 60_000;
    this.socket = io(
      namespaceUrl(options.url, "/viewer"),
      socketOptions(options, () => ({
        sessionId: this.sessionId,
        ...(this.known && !this.freshSnapshot ? { lastSeq: this.position } : {}),
      })),
    );
    this.feed = new StatusFeed(this.socket, (status) => this.emitReserved("status", status));
    const socket = this.socket;
    socket.on("connect", () => {
      // Recovered: Socket.IO replays the missed packets and the relay does not re-join; whatever phase
      // the lost connection was in carries on. Otherwise the relay starts a new join sequence.
      if (socket.recovered) return;
      this.phase = "handshake";
      this.held.clear();
    });
    socket.on("connected", (info) => this.onConnected(info));
    socket.on("event", (frame) => this.onEvent(frame));
    socket.on("synced", (info) => this.onSynced(info));
    socket.on("exec_result", (result) => {
      const pending = this.execs.get(result.id);
      if (pending) {
        this.execs.delete(result.id);
        clearTimeout(pending.timer);
        pending.resolve(result);
      }
      this.emitReserved("exec_result", result);
    });
    socket.on("session_ready", (frame) => this.emitReserved("session_ready", frame));
    socket.on("session_error", (frame) => this.emitReserved("session_error", frame));
    socket.on("session_killed", (frame) => this.emitReserved("session_killed", frame));
    socket.on("disconnected", ({ reason }) => {
      this.feed.finish({ state: "closed", reason });
      this.emitReserved("ended", reason);
    });
    socket.on("error", (error) => {
      this.feed.error(error);
      this.emitReserved("error", error);
    });
  }

  /** The last seq delivered (or covered by a snapshot); undefined before the first join. */
  get lastSeq(): number | undefined {
    return this.known ? this.position : undefined;
  }

  /** Sends user input to the CLI (collab mode). Rejects with a RelayError if the relay refuses it. */
  sendInput(text: string, attachments?: Attachment[]): Promise<void> {
    return settle(this.socket.emitWithAck("input", { text, ...(attachments ? { attachments } : {}) }));
  }

  setModel(provider: string, modelId: string): Promise<void> {
    return settle(this.socket.emitWithAck("model_set", { provider, modelId }));
  }

  /**
   * Runs a CLI command; resolves with the CLI's `exec_result` (also emitted as `exec_result`). Rejects if
   * the relay refuses, the viewer closes, or no result comes within `execTimeoutMs`.
   */
  exec(command: string, args: Record<string, unknown> = {}): Promise<ExecResult> {
    this.execCount += 1;
    const id = `exec-${Date.now().toString(36)}-${this.execCount}-${Math.random().toString(36).slice(2, 8)}`;
    return new Promise<ExecResult>((resolve, reject) => {
      if (this.closed) return reject(new RelayError("closed", "The viewer is closed"));
      const timer = setTimeout(() => {
        this.execs.delete(id);
        reject(new RelayError("timeout", `No result for ${command} within ${this.execTimeoutMs} ms`));
      }, this.execTimeoutMs);
      this.execs.set(id, { resolve, reject, timer });
      settle(this.socket.emitWithAck("exec", { ...args, id, command })).catch((err: unknown) => {
        this.execs.delete(id);
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      });
    });
  }

  /** Asks for a fresh snapshot (delivered as `event`s with `snapshot: true` under the current seq). */
  resync(): Promise<void> {
    return settle(this.socket.emitWithAck("resync", {}));
  }

  /** `close()`: pending `exec`s reject. */
  protected override closing(): void {
    for (const pending of this.execs.values()) {
      clearTimeout(pending.timer);
      pending.reject(new RelayError("closed", "The viewer is closed"));
    }
    this.execs.clear();
  }

  private onConnected(info: ViewerConnected): void {
    const fresh = !info.replayOnly && info.resumedFrom === undefined;
    if (!info.replayOnly) {
      if (fresh) {
        // A snapshot as of the session's current seq follows: the position restarts there.
        this.position = info.lastSeq ?? 0;
        this.known = true;
        this.freshSnapshot = false;
      }
      this.phase = "joining";
    }
    // Like the deployed web app (docs/protocol.md, "/viewer"): `connected {}` is forwarded to the CLI,
    // which answers with fresh state (its `viewer_connected`).
    if (!info.replayOnly) this.socket.emit("connected", {});
    this.emitReserved("connected", info);
    if (fresh) this.emitReserved("snapshot", { sessionId: this.sessionId, seq: this.position });
    this.drain();
  }

  private onEvent(frame: SessionEventFrame): void {
    if (typeof frame.seq !== "number") {
      // The replay-only join of an ended session: its last state, outside the seq stream.
      this.emitReserved("event", { event: frame.event, seq: this.position, snapshot: true, replay: true });
      return;
    }
    if (frame.snapshot) {
      this.position = Math.max(this.position, frame.seq);
      this.known = true;
      this.emitReserved("event", { event: frame.event, seq: frame.seq, snapshot: true });
      this.drain();
      return;
    }
    if (frame.seq <= this.position) return;
    this.held.set(frame.seq, { event: frame.event, seq: frame.seq });
    if (this.phase === "handshake") return;
    this.drain();
    if (this.phase === "live" && this.held.size > 0) this.rejoin(`gap in the event sequence: expected seq ${this.position + 1}, got ${frame.seq}`);
  }

  private onSynced(info: { sessionId: string; lastSeq: number }): void {
    this.phase = "live";
    this.drain();
    if (this.held.size > 0 || this.position < info.lastSeq) {
      this.rejoin(`incomplete join: at seq ${this.position}, the relay is at ${info.lastSeq}`);
      return;
    }
    this.emitReserved("synced", { sessionId: this.sessionId, lastSeq: this.position });
  }

  /** Delivers the held events that continue the sequence; drops those already covered. */
  private drain(): void {
    if (this.phase === "handshake") return;
    for (const seq of this.held.keys()) if (seq <= this.position) this.held.delete(seq);
    for (let next = this.held.get(this.position + 1); next && !this.closed; next = this.held.get(this.position + 1)) {
      this.held.delete(next.seq);
      this.position = next.seq;
      this.emitReserved("event", next);
    }
  }

  /** Reconnects (no recovery: a client-side disconnect is not recoverable) to fetch what follows lastSeq. */
  private rejoin(reason: string): void {
    if (this.closed) return;
    // The log replays everything after lastSeq; should re-joins stop moving past it, ask for a snapshot.
    this.stalls = this.position === this.rejoinFrom ? this.stalls + 1 : 0;
    this.rejoinFrom = this.position;
    this.freshSnapshot = this.stalls >= 2;
    this.rejoins += 1;
    this.held.clear();
    this.phase = "handshake";
    this.feed.rejoining(reason);
    this.socket.disconnect().connect();
  }
}
