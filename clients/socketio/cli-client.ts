import { Emitter } from "@socket.io/component-emitter";
import { io, type ManagerOptions, type Socket, type SocketOptions } from "socket.io-client";
import { PROTOCOL_VERSION } from "../../protocol/constants.js";
import { isRetryable } from "../../protocol/error-codes.js";
import type { ErrorBody, Registered, RelayClientToServer, RelayServerToClient, Reply } from "../../protocol/index.js";
import { watchStatus, type ConnectionStatus } from "./status.js";

export type RelaySocket = Socket<RelayServerToClient, RelayClientToServer>;

export interface SessionOptions {
  /** Resume this session id (a restarted CLI); omitted: the relay issues one. */
  sessionId?: string;
  cwd?: string;
  ephemeral?: boolean;
  collabMode?: boolean;
  sessionName?: string | null;
}

export interface RelayClientOptions {
  /** Relay base URL, e.g. `https://relay.example.com` (the client adds `/relay`). */
  url: string;
  apiKey: string;
  clientVersion?: string;
  session?: SessionOptions;
  /**
   * Most events kept until the relay acknowledges them (default 10,000). When full, the oldest are
   * dropped and reported by an `overflow` event: memory stays bounded during a long outage.
   */
  maxBufferedEvents?: number;
  /** Delay before a refused `register` (relay state unavailable) is tried again (default 1,000 ms). */
  retryDelayMs?: number;
  /** How long `execResult` and `end` wait for the relay's answer (default 10,000 ms). */
  requestTimeoutMs?: number;
  /** Passed to socket.io-client (reconnection delays, timeout, ...); `transports` stays WebSocket-only. */
  ioOptions?: Partial<ManagerOptions & SocketOptions>;
}

/** Events a CLI listens to on the client. Viewer commands arrive with the relay's payloads. */
export interface RelayClientEvents {
  status: (status: ConnectionStatus) => void;
  /** Every successful (re-)registration; `sessionId` stays the same across reconnects. */
  registered: (registered: Registered) => void;
  input: (payload: Parameters<RelayServerToClient["input"]>[0]) => void;
  model_set: (payload: Parameters<RelayServerToClient["model_set"]>[0]) => void;
  exec: (payload: Parameters<RelayServerToClient["exec"]>[0]) => void;
  /** A viewer joined and asks for fresh state: publish a `session_active`. */
  viewer_connected: () => void;
  session_expired: (payload: { sessionId: string }) => void;
  /**
   * The buffer was full: `dropped` events (the oldest, up to client seq `upToSeq`) are given up and never
   * (re)sent; one sent before the connection failed may still have been stored.
   */
  overflow: (info: { dropped: number; upToSeq: number }) => void;
  /** A relay refusal (ack or `error` event). */
  error: (error: ErrorBody) => void;
}

interface Pending {
  seq: number;
  event: unknown;
  /** Sent on an earlier connection (or before a refusal): the next send is a resend. */
  sent: boolean;
}

/** Counters an operator (or a test) can read to see what reconnects cost. */
export interface RelayClientStats {
  published: number;
  /** Sends of an event already sent once (after a reconnect or a refusal). */
  resent: number;
  /** Resends the relay had already stored (their ack was lost): acknowledged, not published again. */
  duplicates: number;
  /** Dropped from a full buffer unacknowledged: never (re)sent. */
  dropped: number;
}

/** A random id for this client's event stream: the relay de-duplicates resent events by it. */
function newStreamId(): string {
  return globalThis.crypto.randomUUID();
}

/**
 * The typed `/relay` client of a coding agent's CLI: publishes one live session over WebSocket and
 * loses nothing across a disconnect.
 *
 * Every published event gets a client seq and stays in a bounded buffer until the relay acknowledges
 * that it is stored. socket.io-client reconnects by itself (its own backoff with jitter); on every
 * (re)connection the client registers the same session again, then sends the still-unacknowledged
 * events in order. Events whose ack was lost with the connection are stored already: the relay
 * recognises them by (streamId, seq) and acknowledges them as duplicates without publishing them
 * twice, so a viewer sees each event exactly once.
 */
export class RelayClient extends Emitter<RelayClientEvents, RelayClientEvents> {
  readonly socket: RelaySocket;
  readonly streamId = newStreamId();
  readonly stats: RelayClientStats = { published: 0, resent: 0, duplicates: 0, dropped: 0 };
  private readonly pending: Pending[] = [];
  private nextSeq = 1;
  private registration: Registered | null = null;
  /** Bumped by every connection: acks of an older connection must not touch the current one's state. */
  private epoch = 0;
  private session: SessionOptions;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private readonly idleWaiters: Array<() => void> = [];
  /** Woken by every change `end()` waits on: an ack, a registration, a lost or failed connection, `close()`. */
  private readonly changeWaiters: Array<() => void> = [];
  /** socket.io-client ran out of reconnection attempts (until the next connection). */
  private gaveUp = false;
  private readonly maxBuffered: number;
  private readonly retryDelayMs: number;
  private readonly requestTimeoutMs: number;
  private stopWatching: () => void = () => undefined;

  constructor(options: RelayClientOptions) {
    super();
    this.session = { ...options.session };
    this.maxBuffered = options.maxBufferedEvents ?? 10_000;
    this.retryDelayMs = options.retryDelayMs ?? 1_000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.socket = io(`${options.url.replace(/\/+$/, "")}/relay`, {
      ...options.ioOptions,
      transports: ["websocket"],
      // Its own connection: a shared Manager would impose this client's options on others (and theirs on it).
      forceNew: true,
      autoConnect: false,
      auth: { apiKey: options.apiKey, protocolVersion: PROTOCOL_VERSION, clientVersion: options.clientVersion ?? "pizzapi-relay-client" },
    });
    this.socket.on("connect", () => {
      this.gaveUp = false;
      this.register();
    });
    this.socket.on("disconnect", () => {
      this.registration = null;
      clearTimeout(this.retryTimer);
      this.changed();
    });
    this.socket.on("connect_error", () => this.changed());
    this.socket.io.on("reconnect_failed", () => {
      this.gaveUp = true;
      this.changed();
    });
    this.socket.on("input", (payload) => this.emit("input", payload));
    this.socket.on("model_set", (payload) => this.emit("model_set", payload));
    this.socket.on("exec", (payload) => this.emit("exec", payload));
    this.socket.on("connected", () => this.emit("viewer_connected"));
    this.socket.on("session_expired", (payload) => this.emit("session_expired", payload));
    this.socket.on("error", (error) => this.emit("error", error));
  }

  /** Opens the connection; events published before are sent once the session is registered. */
  start(): this {
    this.stopWatching();
    this.stopWatching = watchStatus(this.socket, (status) => this.emit("status", status));
    this.socket.connect();
    return this;
  }

  /** The session as the relay registered it (null until the first registration). */
  get sessionId(): string | null {
    return this.registration?.sessionId ?? this.session.sessionId ?? null;
  }

  /** Events not yet acknowledged by the relay. */
  get unacknowledged(): number {
    return this.pending.length;
  }

  /**
   * Publishes an agent event. Never blocks and never fails: the event is buffered until the relay has
   * stored it. Returns the event's client seq.
   */
  publish(event: unknown): number {
    const entry = { seq: this.nextSeq++, event, sent: false };
    this.stats.published++;
    this.pending.push(entry);
    if (this.pending.length > this.maxBuffered) {
      const dropped = this.pending.splice(0, this.pending.length - this.maxBuffered);
      this.stats.dropped += dropped.length;
      this.emit("overflow", { dropped: dropped.length, upToSeq: dropped[dropped.length - 1]?.seq ?? 0 });
    }
    if (this.registration && this.socket.connected) this.send(entry, this.epoch);
    return entry.seq;
  }

  /** Publishes a `heartbeat` event now, only while connected: a stale heartbeat is not worth buffering. */
  heartbeat(status: Record<string, unknown>): boolean {
    if (!this.registration || !this.socket.connected) return false;
    this.publish({ ...status, type: "heartbeat" });
    return true;
  }

  /** Sends `heartbeat(build())` every `intervalMs` until `stopHeartbeat()` or `close()`. */
  startHeartbeat(intervalMs: number, build: () => Record<string, unknown>): void {
    this.stopHeartbeat();
    this.heartbeatTimer = setInterval(() => this.heartbeat(build()), intervalMs);
  }

  stopHeartbeat(): void {
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  /** Answers a viewer's `exec`. Not buffered: the viewer waiting for it is live too. */
  execResult(result: Parameters<RelayClientToServer["exec_result"]>[0]): Promise<Reply> {
    // Not buffered: socket.io-client would send it before the next `register`, and the relay refuses it.
    if (!this.registration || !this.socket.connected) return Promise.resolve({ ok: false, error: { code: "unavailable", message: "Not connected to the relay" } });
    return this.request((socket) => socket.emitWithAck("exec_result", result));
  }

  /** Resolves once the buffer is empty: every published event acknowledged by the relay, or dropped by an `overflow`. */
  flushed(): Promise<void> {
    if (this.pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Ends the session for its viewers once every buffered event is stored, then closes the connection,
   * and resolves with the relay's answer. While disconnected (or not yet registered: the relay refuses
   * `session_end` from a connection that has not registered) it waits for the next registration. When no
   * connection can come (never started, closed, refused, or out of reconnection attempts) it closes at
   * once and resolves with `unavailable`: the relay then ends the session after its reconnect grace.
   */
  async end(): Promise<Reply> {
    while (this.pending.length > 0 || !this.registration || !this.socket.connected) {
      if (!this.socket.active || this.gaveUp) {
        this.close();
        return { ok: false, error: { code: "unavailable", message: "Not connected to the relay: the session was not ended" } };
      }
      await new Promise<void>((resolve) => this.changeWaiters.push(resolve));
    }
    const reply = await this.request((socket) => socket.emitWithAck("session_end", {}));
    this.close();
    return reply;
  }

  /** Closes the connection without ending the session (it ends after the relay's reconnect grace). */
  close(): void {
    this.stopHeartbeat();
    clearTimeout(this.retryTimer);
    this.stopWatching();
    this.socket.disconnect();
    this.changed();
  }

  private register(): void {
    const epoch = ++this.epoch;
    const { sessionId, ...rest } = this.session;
    const payload = { ...rest, ...(sessionId ? { sessionId } : {}), streamId: this.streamId };
    this.socket.emit("register", payload, (reply) => {
      if (epoch !== this.epoch || !this.socket.connected) return;
      if (!reply.ok) {
        this.emit("error", reply.error);
        if (!isRetryable(reply.error.code)) {
          // The relay will refuse this registration every time (a payload it rejects): stop, say so.
          this.close();
          this.emit("status", { state: "failed", reason: reply.error.message, code: reply.error.code });
          return;
        }
        this.retryTimer = setTimeout(() => {
          if (epoch === this.epoch && this.socket.connected) this.register();
        }, this.retryDelayMs);
        return;
      }
      const { ok: _ok, ...registered } = reply;
      this.registration = registered;
      // Later reconnects claim the same session (same user: same seq, viewers kept).
      this.session.sessionId = registered.sessionId;
      // The buffer goes out before listeners hear of the registration: an event one of them publishes
      // (e.g. its current state) must follow the older ones, or the relay, which stores a stream's seqs
      // only in increasing order, would take the older ones for duplicates and drop them.
      for (const entry of [...this.pending]) this.send(entry, epoch);
      this.emit("registered", registered);
      this.changed();
    });
  }

  private send(entry: Pending, epoch: number): void {
    if (entry.sent) this.stats.resent++;
    entry.sent = true;
    this.socket.emit("event", { event: entry.event, seq: entry.seq }, (reply) => {
      if (reply.ok) {
        if (reply.duplicate) this.stats.duplicates++;
        return this.acknowledged(entry.seq);
      }
      if (epoch !== this.epoch) return;
      this.emit("error", reply.error);
      // Refused (our registration was replaced, or the relay's state is unavailable): register again,
      // which resends everything still pending; what was stored meanwhile comes back as a duplicate.
      this.registration = null;
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => {
        if (epoch === this.epoch && this.socket.connected) this.register();
      }, this.retryDelayMs);
    });
  }

  private acknowledged(seq: number): void {
    const index = this.pending.findIndex((p) => p.seq === seq);
    if (index >= 0) this.pending.splice(index, 1);
    if (this.pending.length === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
    this.changed();
  }

  private changed(): void {
    for (const resolve of this.changeWaiters.splice(0)) resolve();
  }

  /** An acknowledged request that settles even if the connection drops before the reply. */
  private async request(send: (socket: ReturnType<RelaySocket["timeout"]>) => Promise<Reply>): Promise<Reply> {
    try {
      return await send(this.socket.timeout(this.requestTimeoutMs));
    } catch (err) {
      return { ok: false, error: { code: "unavailable", message: err instanceof Error ? err.message : String(err) } };
    }
  }
}
