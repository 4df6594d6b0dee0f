import { io, type ManagerOptions, type Socket } from "socket.io-client";

/**
 * Socket.IO CLIs of the released generations, as they run in the field (docs/protocol.md, `/relay`).
 * They cannot be changed, so these test clients describe their wire on their own terms instead of
 * importing this relay's protocol types: a drift of the relay must show up as a failing test, never be
 * followed by the client.
 */

export type CliGeneration = "socket-unversioned" | "socket-v1" | "socket-v1-acked";
/** Generations that declare `protocolVersion: 1` (a JSON number) and a `clientVersion`. */
export type VersionedGeneration = Exclude<CliGeneration, "socket-unversioned">;

/** The release each versioned generation sends as `clientVersion` unless told otherwise. */
export const DEFAULT_CLIENT_VERSION: Readonly<Record<VersionedGeneration, string>> = { "socket-v1": "0.5.7", "socket-v1-acked": "0.6.0" };

/** socket.io-client's reconnection as the field clients configure it: on, 1 s doubling up to 30 s. */
export type ReconnectionOptions = Partial<
  Pick<ManagerOptions, "reconnection" | "reconnectionDelay" | "reconnectionDelayMax" | "reconnectionAttempts" | "randomizationFactor" | "timeout">
>;
export const FIELD_RECONNECTION: ReconnectionOptions = { reconnection: true, reconnectionDelay: 1_000, reconnectionDelayMax: 30_000 };

/**
 * The handshake `auth` of a generation: socket-unversioned sends no version field at all; socket-v1 and
 * socket-v1-acked send `protocolVersion` as the number 1 (not a semver string) and `clientVersion`.
 */
export function fieldAuth(generation: CliGeneration, credentials: Record<string, string>, clientVersion?: string): Record<string, string | number> {
  if (generation === "socket-unversioned") return { ...credentials };
  return { ...credentials, protocolVersion: 1, clientVersion: clientVersion ?? DEFAULT_CLIENT_VERSION[generation] };
}

/**
 * Options of socket.io-client as every field client passes them: WebSocket only, and its own connection
 * (each deployed CLI or runner is its own process, so nothing is multiplexed with another client).
 */
export function fieldSocketOptions(auth: Record<string, string | number>, reconnection: ReconnectionOptions = {}): Partial<ManagerOptions> & { auth: object; autoConnect: boolean } {
  return { transports: ["websocket"], forceNew: true, autoConnect: false, ...FIELD_RECONNECTION, ...reconnection, auth };
}

export interface Registered {
  sessionId: string;
  token: string;
  shareUrl: string;
  isEphemeral: boolean;
  collabMode: boolean;
}
export interface InputFrame {
  text: string;
  attachments?: unknown[];
  client?: string;
  deliverAs?: string;
}
export type ExecFrame = { id: string; command: string } & Record<string, unknown>;
export interface ExecOutcome {
  ok: boolean;
  result?: unknown;
  error?: string;
}
export interface RelayError {
  code?: string;
  message?: string;
}

interface CliListens {
  registered: (registered: Registered) => void;
  event_ack: (ack: { sessionId: string; seq: number }) => void;
  error: (error: RelayError) => void;
  connected: (payload: unknown) => void;
  input: (input: InputFrame, second?: unknown) => void;
  exec: (exec: ExecFrame) => void;
  model_set: (model: { provider: string; modelId: string }) => void;
  session_expired: (payload: { sessionId: string }) => void;
}
/** What the field CLIs emit is not limited to what this relay serves (docs/protocol.md, "Replies and errors"). */
type CliEmits = Record<string, (...args: unknown[]) => void>;

export interface FieldCliOptions {
  /** The relay's base URL; the client connects to `${url}/relay`. */
  url: string;
  apiKey: string;
  generation: CliGeneration;
  /** Versioned generations only; defaults to DEFAULT_CLIENT_VERSION. */
  clientVersion?: string;
  /** A runner worker's `PIZZAPI_SESSION_ID`; otherwise the relay assigns one at the first registration. */
  sessionId?: string;
  cwd: string;
  ephemeral?: boolean;
  collabMode?: boolean;
  sessionName?: string | null;
  /** Sent in `register` by socket-v1 and socket-v1-acked only. */
  sessionFile?: string;
  parentSessionId?: string;
  /** The `session_active` state published when a viewer arrives. */
  state?: () => unknown;
  /** Runs a viewer's `exec`; without it every command is answered as unsupported. */
  exec?: (exec: ExecFrame) => ExecOutcome;
  reconnection?: ReconnectionOptions;
}

/** One `input` as the CLI's listener received it. */
export interface ReceivedInput {
  input: InputFrame;
  /** `typeof` the listener's second argument: "undefined", "function" (an ack), or "string" (a recovery offset). */
  secondArgument: string;
  /** The acked generation called its second argument successfully with `true`. */
  acked: boolean;
}

/**
 * A field CLI of one generation: `register` (without an ack) on every `connect`, recovered ones too;
 * `event {sessionId, token, event, seq}` with `seq` restarting at 1 after each `registered`; answers a
 * viewer's arrival (`connected`) with capabilities and a `session_active` state. Every listener takes
 * one argument, except the acked generation's `input` listener `(data, ack)`, which calls `ack(true)`
 * and, when its second argument is no function (the recovery offset of an unacknowledged emit), throws
 * "ack is not a function" and publishes a `cli_error` event although the input was delivered.
 */
export class FieldCli {
  readonly socket: Socket<CliListens, CliEmits>;
  readonly registrations: Registered[] = [];
  readonly inputs: ReceivedInput[] = [];
  readonly execs: ExecFrame[] = [];
  readonly modelSets: Array<{ provider: string; modelId: string }> = [];
  /** `error` events of the relay. */
  readonly errors: RelayError[] = [];
  readonly connectErrors: Array<{ message: string; data: unknown }> = [];
  /** Messages of the `cli_error` events this CLI published. */
  readonly cliErrors: string[] = [];
  /** Cumulative `event_ack` high-water mark of the current registration. */
  ackedSeq = 0;
  private registration: Registered | null = null;
  private seq = 0;
  private sessionId: string | undefined;

  constructor(private readonly options: FieldCliOptions) {
    this.sessionId = options.sessionId;
    const auth = fieldAuth(options.generation, { apiKey: options.apiKey }, options.clientVersion);
    this.socket = io(`${options.url.replace(/\/+$/, "")}/relay`, fieldSocketOptions(auth, options.reconnection));
    this.socket.on("connect", () => this.socket.emit("register", this.registerPayload()));
    this.socket.on("disconnect", () => (this.registration = null));
    this.socket.on("connect_error", (err: Error & { data?: unknown }) => this.connectErrors.push({ message: err.message, data: err.data }));
    this.socket.on("registered", (registered) => {
      this.registration = registered;
      this.sessionId = registered.sessionId;
      this.registrations.push(registered);
      this.seq = 0;
      this.ackedSeq = 0;
    });
    this.socket.on("event_ack", (ack) => (this.ackedSeq = Math.max(this.ackedSeq, ack.seq)));
    this.socket.on("error", (error) => this.errors.push(error));
    this.socket.on("connected", () => {
      this.publish({ type: "capabilities", models: [], commands: [] });
      this.publish({ type: "session_active", state: options.state?.() ?? {} });
    });
    this.socket.on("input", options.generation === "socket-v1-acked" ? (input, ack) => this.onAckedInput(input, ack) : (input, extra) => this.onInput(input, extra));
    this.socket.on("exec", (exec) => this.onExec(exec));
    this.socket.on("model_set", (model) => this.modelSets.push(model));
  }

  get generation(): CliGeneration {
    return this.options.generation;
  }

  /** The `seq` of the last event sent in the current registration (0 right after `registered`). */
  get sentSeq(): number {
    return this.seq;
  }

  /** The current registration (null while disconnected or before `registered`). */
  get registered(): Registered | null {
    return this.registration;
  }

  start(): this {
    this.socket.connect();
    return this;
  }

  /** Publishes an agent event; dropped (false) while not registered: there is no token to send. */
  publish(event: Record<string, unknown>): boolean {
    const reg = this.registration;
    if (!reg || !this.socket.connected) return false;
    this.seq += 1;
    this.socket.emit("event", { sessionId: reg.sessionId, token: reg.token, event, seq: this.seq });
    return true;
  }

  /** An event this relay may not serve (`session_message`, `session_trigger`...), sent without an ack. */
  emitExtra(event: string, payload: unknown): void {
    this.socket.emit(event, payload);
  }

  /** The same with an ack, as socket-v1 CLIs send `service_announce`: resolves with the reply and how long it took. */
  emitExtraWithAck(event: string, payload: unknown, timeoutMs = 5_000): Promise<{ reply: unknown; elapsedMs: number }> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ack for ${event} within ${timeoutMs} ms`)), timeoutMs);
      this.socket.emit(event, payload, (reply: unknown) => {
        clearTimeout(timer);
        resolve({ reply, elapsedMs: Date.now() - started });
      });
    });
  }

  /** Ends the session (`session_end`, when registered) and closes the connection for good. */
  stop(): void {
    const reg = this.registration;
    if (reg && this.socket.connected) this.socket.emit("session_end", { sessionId: reg.sessionId, token: reg.token });
    this.registration = null;
    this.socket.disconnect();
  }

  private registerPayload(): Record<string, unknown> {
    const { options } = this;
    const versioned = options.generation !== "socket-unversioned";
    return {
      // After the first registration the CLI keeps its session: a re-register of the id is a reconnect.
      ...(this.sessionId !== undefined ? { sessionId: this.sessionId } : {}),
      cwd: options.cwd,
      ephemeral: options.ephemeral ?? true,
      collabMode: options.collabMode ?? true,
      sessionName: options.sessionName ?? null,
      ...(versioned && options.sessionFile !== undefined ? { sessionFile: options.sessionFile } : {}),
      ...(versioned && options.parentSessionId !== undefined ? { parentSessionId: options.parentSessionId } : {}),
    };
  }

  /** The one-argument listener of the other generations: an extra argument is only recorded, never used. */
  private onInput(input: InputFrame, extra: unknown): void {
    this.inputs.push({ input, secondArgument: typeof extra, acked: false });
  }

  /** The socket-v1-acked listener, mistake included: it calls whatever it got as the ack. */
  private onAckedInput(input: InputFrame, ack: unknown): void {
    const received: ReceivedInput = { input, secondArgument: typeof ack, acked: false };
    this.inputs.push(received);
    try {
      (ack as (delivered: boolean) => void)(true);
      received.acked = true;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.cliErrors.push(message);
      this.publish({ type: "cli_error", message, source: "input" });
    }
  }

  private onExec(exec: ExecFrame): void {
    this.execs.push(exec);
    const outcome = this.options.exec?.(exec) ?? { ok: false, error: `Unsupported command: ${exec.command}` };
    this.socket.emit("exec_result", { id: exec.id, command: exec.command, ...outcome });
  }
}
