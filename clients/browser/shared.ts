import { Emitter } from "@socket.io/component-emitter";
import type { ManagerOptions, Socket, SocketOptions } from "socket.io-client";
import { PROTOCOL_VERSION } from "../../protocol/constants.js";
import type { ErrorCode } from "../../protocol/errors.js";
import { watchStatus, type ConnectionStatus } from "../socketio/status.js";

/**
 * What the three browser clients share: handshake options, the status feed, request errors, and their
 * common base (status, connect, close).
 *
 * Browser-safe: no Node built-ins, and `protocol/` only as types (plus the dependency-free constants),
 * so zod and semver stay out of the bundle.
 */

export type IoOptions = Partial<ManagerOptions & SocketOptions>;

export interface BaseClientOptions {
  /** The relay's origin, e.g. `https://relay.example.com` (the namespace is appended; use `ioOptions.path` behind a prefix). */
  url: string;
  /** For tools: authenticates with an API key instead of the login cookie browsers send. */
  apiKey?: string;
  /** Reported to the relay in the handshake (logs, metrics). */
  clientVersion?: string;
  /** Passed to socket.io-client (`extraHeaders`, `path`, `forceNew`, backoff overrides...); `auth` is the client's own. */
  ioOptions?: IoOptions;
}

/**
 * socket.io-client's own reconnection with jittered exponential backoff (its defaults, spelled out):
 * the first retry after 1 s ± 50 %, doubling up to 5 s, forever. Override through `ioOptions`.
 */
export const RECONNECTION_DEFAULTS = {
  reconnection: true,
  reconnectionDelay: 1_000,
  reconnectionDelayMax: 5_000,
  randomizationFactor: 0.5,
  reconnectionAttempts: Infinity,
} as const;

export const DEFAULT_CLIENT_VERSION = "pizzapi-relay-browser";

/**
 * The socket.io-client options of a namespace client. `auth` is a function, so every (re)connection
 * sends what `auth()` says at that moment (the viewer's current `lastSeq`). Transports are left at the
 * default: long-polling first, then the upgrade to WebSocket.
 */
export function socketOptions(options: BaseClientOptions, auth: () => Record<string, unknown>): IoOptions {
  return {
    withCredentials: true,
    ...RECONNECTION_DEFAULTS,
    ...options.ioOptions,
    auth: (cb: (data: object) => void) =>
      cb({
        protocolVersion: PROTOCOL_VERSION,
        clientVersion: options.clientVersion ?? DEFAULT_CLIENT_VERSION,
        ...(options.apiKey ? { apiKey: options.apiKey } : {}),
        ...auth(),
      }),
  };
}

/** `url` + namespace, without doubling the slash. */
export function namespaceUrl(url: string, namespace: string): string {
  return `${url.replace(/\/+$/, "")}${namespace}`;
}

/** A request the relay refused (its typed `{ code, message }`), or one that never got an answer. */
export class RelayError extends Error {
  override name = "RelayError";
  constructor(
    readonly code: ErrorCode | "disconnected" | "timeout" | "closed",
    message: string,
  ) {
    super(message);
  }
}

/** The reply of an acknowledged request, as the protocol's `Reply` type shapes it. */
type AckReply = { ok: true } | { ok: false; error: { code: ErrorCode; message: string } };

/** Turns an acknowledged request into a promise: resolves on `{ok: true}`, rejects with a RelayError. */
export async function settle(reply: Promise<AckReply>): Promise<void> {
  let answer: AckReply;
  try {
    answer = await reply;
  } catch (err) {
    throw new RelayError("disconnected", err instanceof Error ? err.message : String(err));
  }
  if (!answer.ok) throw new RelayError(answer.error.code, answer.error.message);
}

/** An error as the clients report it: the relay's typed ones carry a code. */
export interface ClientErrorInfo {
  message: string;
  code?: ErrorCode;
}

/**
 * A client's ConnectionStatus: socket.io-client's view (watchStatus), corrected by what only the
 * namespace knows. The relay refuses a viewer of an unknown session (or a terminal it cannot attach)
 * after the handshake, with an error then a server-side disconnect: that is `failed`, not `closed`.
 * A session that ended is `closed` with its reason, and a deliberate re-join is `reconnecting`.
 */
export class StatusFeed {
  private current: ConnectionStatus = { state: "connecting" };
  private lastError: ClientErrorInfo | null = null;
  private rejoinReason: string | null = null;
  private final = false;
  private readonly stop: () => void;

  constructor(
    socket: Socket,
    private readonly emit: (status: ConnectionStatus) => void,
  ) {
    socket.on("connect", () => {
      this.lastError = null;
    });
    this.stop = watchStatus(socket, (status) => this.fromSocket(status));
  }

  get status(): ConnectionStatus {
    return this.current;
  }

  /** An error the relay sent; if it disconnects right after, the client failed for this reason. */
  error(info: ClientErrorInfo): void {
    this.lastError = info;
  }

  /** The relay closed the conversation for good (e.g. the session ended): later socket states are noise. */
  finish(status: ConnectionStatus): void {
    this.set(status);
    this.final = true;
  }

  /** The client is about to disconnect and reconnect on purpose. */
  rejoining(reason: string): void {
    this.rejoinReason = reason;
  }

  dispose(): void {
    this.stop();
  }

  private fromSocket(status: ConnectionStatus): void {
    if (this.final) return;
    if (status.state === "closed" && status.reason === "io client disconnect" && this.rejoinReason !== null) {
      return this.set({ state: "reconnecting", attempt: 1, reason: this.rejoinReason });
    }
    if (status.state === "closed" && status.reason === "io server disconnect" && this.lastError) {
      return this.finish({ state: "failed", reason: this.lastError.message, ...(this.lastError.code ? { code: this.lastError.code } : {}) });
    }
    if (status.state === "connected") this.rejoinReason = null;
    this.set(status);
  }

  private set(status: ConnectionStatus): void {
    if (JSON.stringify(status) === JSON.stringify(this.current)) return;
    this.current = status;
    this.emit(status);
  }
}

/** The event every browser client emits. */
export interface StatusEvents {
  status: (status: ConnectionStatus) => void;
}

/**
 * The base of the three clients: the status, `connect()` and `close()`. The subclass creates `socket`
 * and `feed` in its constructor, after the state its handshake `auth` function reads: on an already open
 * shared Manager, socket.io-client calls it as soon as the socket is created.
 */
export abstract class BrowserClient<S extends Socket, Events extends StatusEvents> extends Emitter<Record<never, never>, Record<never, never>, Events> {
  /** The underlying socket.io-client socket (its Manager is `socket.io`). */
  abstract readonly socket: S;
  protected abstract readonly feed: StatusFeed;
  protected closed = false;

  get status(): ConnectionStatus {
    return this.feed.status;
  }

  /** Only needed with `ioOptions.autoConnect: false`. */
  connect(): this {
    if (!this.closed) this.socket.connect();
    return this;
  }

  /** Closes for good: no reconnection. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.closing();
    this.socket.disconnect();
    this.feed.finish({ state: "closed", reason: "io client disconnect" });
    this.feed.dispose();
  }

  /** Runs once, when `close()` starts, before the disconnection. */
  protected closing(): void {}
}
