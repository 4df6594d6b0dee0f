import { Emitter } from "@socket.io/component-emitter";
import { io, type ManagerOptions, type Socket, type SocketOptions } from "socket.io-client";
import { PROTOCOL_VERSION } from "../../protocol/constants.js";
import { isRetryable } from "../../protocol/error-codes.js";
import type { ErrorBody, ErrorCode, Reply } from "../../protocol/errors.js";
import type { RunnerClientToServer, RunnerServerToClient } from "../../protocol/namespaces/runner.js";
import type { RunnerSkill } from "../../protocol/shared.js";
import { watchStatus, type ConnectionStatus } from "./status.js";

/**
 * The typed runner daemon client of `/runner` (WebSocket only). It registers on every connection (the
 * first and each reconnection) with the same identity, dispatches every relay command to a typed handler
 * and turns the handler's return value into the protocol's reply frame. Reconnection is socket.io-client's
 * own, with its exponential backoff and jitter: this client runs no retry loop of its own.
 */

export type RunnerSocket = Socket<RunnerServerToClient, RunnerClientToServer>;

/** Every command the relay sends a runner: the server→client map minus its two notifications. */
export type RunnerCommand = Exclude<keyof RunnerServerToClient, "runner_registered" | "error">;
export type CommandPayload<K extends RunnerCommand> = Parameters<RunnerServerToClient[K]>[0];

/** A frame the runner sends the relay, and the relay's acknowledgement of it. */
export type RunnerFrame = keyof RunnerClientToServer;
export type FramePayload<E extends RunnerFrame> = Parameters<RunnerClientToServer[E]>[0];
export type FrameReply<E extends RunnerFrame> = Parameters<NonNullable<Parameters<RunnerClientToServer[E]>[1]>>[0];

/** Success, or a failure the relay passes on (to the REST caller, or the browser). */
export type Outcome = { ok: true } | { ok: false; message: string };
export type SkillFailure = { ok: false; message: string };
export type SkillContent = { ok: true; name?: string; content: string } | SkillFailure;
export type SkillList = { ok: true; skills: RunnerSkill[] } | SkillFailure;

/**
 * What each command's handler returns, and the reply frame the client makes of it. `void` means the
 * protocol has no reply (or, for the Outcome commands, success). A handler that throws is a failure
 * with the error's message.
 */
export interface CommandResults {
  /** → `session_ready`, or `session_error` with the message. */
  new_session: Outcome | void;
  /** → `session_killed` on success; the protocol has no failure frame (nothing is sent). */
  kill_session: Outcome | void;
  restart: void;
  /** → `sessions_list`. */
  list_sessions: string[];
  /** `pong` is always sent, with or without a handler. */
  ping: void;
  /** → `terminal_ready`, or `terminal_error` with the message. The PTY's output goes out through `client.terminal`. */
  new_terminal: Outcome | void;
  terminal_input: void;
  terminal_resize: void;
  kill_terminal: void;
  /** → `terminals_list`. */
  list_terminals: string[];
  /** → `skills_list` with the command's requestId. */
  list_skills: RunnerSkill[];
  /** → `skill_result` {ok, name, content} or {ok: false, message}, with the command's requestId. */
  get_skill: SkillContent;
  /** → `skill_result` {ok, skills} (the runner's list after the change) or {ok: false, message}. */
  create_skill: SkillList;
  update_skill: SkillList;
  delete_skill: SkillList;
}

/** Never for a command added to the protocol without an entry in CommandResults (and REPLIES then fails to compile). */
export type CommandResult<K extends RunnerCommand> = K extends keyof CommandResults ? CommandResults[K] : never;

export type CommandHandler<K extends RunnerCommand> = (payload: CommandPayload<K>, client: RunnerClient) => CommandResult<K> | Promise<CommandResult<K>>;

/** One optional handler per relay command. */
export type RunnerHandlers = { [K in RunnerCommand]?: CommandHandler<K> };

export type RunnerErrorCode = ErrorCode | "timeout" | "disconnected" | "closed";

/** A refusal by the relay (a protocol ErrorCode), or a frame the relay never acknowledged. */
export class RunnerClientError extends Error {
  constructor(
    readonly code: RunnerErrorCode,
    message: string,
    /** The frame the error concerns, when it concerns one. */
    readonly event?: string,
  ) {
    super(message);
    this.name = "RunnerClientError";
  }
}

export interface RunnerClientEvents {
  /** Every change of the connection's status (see ConnectionStatus). */
  status: (status: ConnectionStatus) => void;
  /** The relay accepted `register_runner` on a new connection. */
  registered: (info: { runnerId: string; recovered: boolean }) => void;
  /** Handshake or registration refused, a relay `error` event, or a reply frame the relay refused or never acknowledged. */
  error: (error: RunnerClientError) => void;
  /** A handler threw (its failure reply, if the protocol has one, was sent). */
  handler_error: (command: RunnerCommand, error: unknown) => void;
}

export interface RunnerClientOptions {
  /** The relay's base URL, e.g. `https://relay.example.com`; the client connects to `${url}/runner`. */
  url: string;
  apiKey: string;
  /** Persistent identity: the relay binds the id to the secret (and the key's user) for good. */
  runnerId: string;
  runnerSecret: string;
  name?: string;
  roots?: string[];
  /** Skills declared at registration; kept up to date from the skill handlers' results and `reportSkills`. */
  skills?: RunnerSkill[];
  clientVersion?: string;
  handlers?: RunnerHandlers;
  /** How long a frame waits for the relay's acknowledgement once sent (default 10 s). */
  ackTimeoutMs?: number;
  /**
   * socket.io-client Manager/Socket options, over DEFAULT_IO_OPTIONS. `transports` (WebSocket only),
   * `auth` and `forceNew` are the client's own.
   */
  ioOptions?: Partial<ManagerOptions & SocketOptions>;
}

/**
 * socket.io-client's own defaults, spelled out: reconnect forever; the n-th delay is
 * min(1000 · 2^(n-1), 5000) ms, randomised by ±50 %; a connection attempt times out after 20 s.
 */
export const DEFAULT_IO_OPTIONS = {
  reconnection: true,
  reconnectionAttempts: Infinity,
  reconnectionDelay: 1_000,
  reconnectionDelayMax: 5_000,
  randomizationFactor: 0.5,
  timeout: 20_000,
} as const satisfies Partial<ManagerOptions>;

export const DEFAULT_ACK_TIMEOUT_MS = 10_000;

type Called<T> = { kind: "missing" } | { kind: "ok"; value: T } | { kind: "threw"; message: string };
type AnyFrame = { [E in RunnerFrame]: { event: E; payload: FramePayload<E> } }[RunnerFrame];

const frame = <E extends RunnerFrame>(event: E, payload: FramePayload<E>): AnyFrame => ({ event, payload }) as AnyFrame;
const failed = (message: string): SkillFailure => ({ ok: false, message });
const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const missing = (command: string): string => `This runner does not handle ${command}`;

/** The Outcome a command's handler produced: no handler and a throw are failures, `void` is success. */
function outcomeOf(command: string, called: Called<Outcome | void>): Outcome {
  if (called.kind === "missing") return failed(missing(command));
  if (called.kind === "threw") return failed(called.message);
  return called.value ?? { ok: true };
}

function skillResult<T extends SkillContent | SkillList>(command: string, called: Called<T>): T | SkillFailure {
  if (called.kind === "missing") return failed(missing(command));
  if (called.kind === "threw") return failed(called.message);
  return called.value;
}

/**
 * The reply frame of every command, or null when the protocol has none. Keyed by RunnerCommand: a
 * command added to the protocol's map does not compile until it is given a reply here.
 */
const REPLIES: { [K in RunnerCommand]: (payload: CommandPayload<K>, called: Called<CommandResult<K>>, client: RunnerClient) => AnyFrame | null } = {
  new_session: ({ sessionId }, called) => {
    const outcome = outcomeOf("new_session", called);
    return outcome.ok ? frame("session_ready", { sessionId }) : frame("session_error", { sessionId, message: outcome.message });
  },
  kill_session: ({ sessionId }, called) => {
    if (called.kind !== "ok" || (called.value && !called.value.ok)) return null;
    return frame("session_killed", { sessionId });
  },
  restart: () => null,
  list_sessions: (_payload, called) => frame("sessions_list", { sessions: called.kind === "ok" ? called.value : [] }),
  ping: () => frame("pong", { now: Date.now() }),
  new_terminal: ({ terminalId }, called) => {
    const outcome = outcomeOf("new_terminal", called);
    return outcome.ok ? frame("terminal_ready", { terminalId }) : frame("terminal_error", { terminalId, message: outcome.message });
  },
  terminal_input: () => null,
  terminal_resize: () => null,
  kill_terminal: () => null,
  list_terminals: (_payload, called) => frame("terminals_list", { terminals: called.kind === "ok" ? called.value : [] }),
  list_skills: ({ requestId }, called, client) => {
    const id = requestId !== undefined ? { requestId } : {};
    // Without a handler, the skills the runner declared; a throw has no skills_list form, only skill_result's.
    if (called.kind === "threw") return requestId !== undefined ? frame("skill_result", { requestId, ok: false, message: called.message }) : null;
    return frame("skills_list", { ...id, skills: called.kind === "ok" ? called.value : client.skills });
  },
  get_skill: ({ name, requestId }, called) => {
    const result = skillResult("get_skill", called);
    return frame("skill_result", result.ok ? { requestId, ok: true, name: result.name ?? name, content: result.content } : { requestId, ok: false, message: result.message });
  },
  create_skill: ({ requestId }, called) => skillListFrame("create_skill", requestId, called),
  update_skill: ({ requestId }, called) => skillListFrame("update_skill", requestId, called),
  delete_skill: ({ requestId }, called) => skillListFrame("delete_skill", requestId, called),
};

function skillListFrame(command: string, requestId: string, called: Called<SkillList>): AnyFrame {
  const result = skillResult(command, called);
  return frame("skill_result", result.ok ? { requestId, ok: true, skills: result.skills } : { requestId, ok: false, message: result.message });
}

interface Gate {
  promise: Promise<void>;
  open(): void;
  fail(error: Error): void;
}

function gate(): Gate {
  let open!: () => void;
  let fail!: (error: Error) => void;
  const promise = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  promise.catch(() => undefined); // a gate nobody waits on may fail without an unhandled rejection
  return { promise, open, fail };
}

export class RunnerClient extends Emitter<Record<never, never>, Record<never, never>, RunnerClientEvents> {
  /** The underlying socket.io-client socket (its Manager is `socket.io`). */
  readonly socket: RunnerSocket;
  /** The terminal output of the PTYs `new_terminal` started; each call resolves with the relay's ack. */
  readonly terminal: {
    ready(terminalId: string): Promise<Reply>;
    data(terminalId: string, base64: string): Promise<Reply>;
    exit(terminalId: string, exitCode: number): Promise<Reply>;
    error(terminalId: string, message: string): Promise<Reply>;
  };

  private readonly handlers: RunnerHandlers;
  private readonly ackTimeoutMs: number;
  private currentSkills: RunnerSkill[];
  private currentStatus: ConnectionStatus = { state: "connecting" };
  private registeredAs: string | null = null;
  /** True between this connection's accepted registration and its end: frames go out only then. */
  private registered = false;
  private ready = gate();
  private refusal: ErrorBody | null = null;
  private closed = false;
  private readonly unwatch: () => void;

  constructor(private readonly options: RunnerClientOptions) {
    super();
    this.handlers = options.handlers ?? {};
    this.ackTimeoutMs = options.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS;
    this.currentSkills = options.skills ?? [];
    this.socket = io(`${options.url.replace(/\/+$/, "")}/runner`, {
      ...DEFAULT_IO_OPTIONS,
      ...options.ioOptions,
      transports: ["websocket"],
      // One Manager per runner: a forced close (see register) must not cut another client's connection.
      forceNew: true,
      auth: {
        apiKey: options.apiKey,
        runnerId: options.runnerId,
        runnerSecret: options.runnerSecret,
        protocolVersion: PROTOCOL_VERSION,
        ...(options.clientVersion !== undefined ? { clientVersion: options.clientVersion } : {}),
      },
    });

    this.terminal = {
      ready: (terminalId) => this.send("terminal_ready", { terminalId }),
      data: (terminalId, data) => this.send("terminal_data", { terminalId, data }),
      exit: (terminalId, exitCode) => this.send("terminal_exit", { terminalId, exitCode }),
      error: (terminalId, message) => this.send("terminal_error", { terminalId, message }),
    };

    // Before the status watcher: a `status` listener that sends on "reconnecting" must find the gate closed.
    this.socket.on("disconnect", () => {
      if (!this.registered) return;
      this.registered = false;
      this.ready = gate();
    });
    this.unwatch = watchStatus(this.socket, (status) => this.setStatus(status));
    this.socket.on("connect", () => this.register());
    this.socket.on("connect_error", (err: Error & { data?: unknown }) => {
      const data = err.data as Partial<ErrorBody> | undefined;
      if (typeof data?.code === "string") this.emitReserved("error", new RunnerClientError(data.code, data.message ?? err.message));
    });
    this.socket.on("error", (body) => this.emitReserved("error", new RunnerClientError(body.code, body.message)));
    for (const command of Object.keys(REPLIES) as RunnerCommand[]) {
      (this.socket as unknown as Socket).on(command, (payload: unknown) => void this.dispatch(command, (payload ?? {}) as CommandPayload<typeof command>));
    }
  }

  /** The id the relay registered this runner under (the configured one), once registered. */
  get runnerId(): string | null {
    return this.registeredAs;
  }

  get status(): ConnectionStatus {
    return this.currentStatus;
  }

  /** The skills this runner declares on (re)registration: the configured ones, then the last reported. */
  get skills(): RunnerSkill[] {
    return this.currentSkills;
  }

  /** `runner_session_event`: an event of a session this runner spawned, published to its viewers. */
  sessionEvent(sessionId: string, event: unknown): Promise<Reply> {
    return this.send("runner_session_event", { sessionId, event });
  }

  /** Reports a changed skill list (`skills_list` without a requestId); later registrations declare it too. */
  reportSkills(skills: RunnerSkill[]): Promise<Reply> {
    this.currentSkills = skills;
    return this.send("skills_list", { skills });
  }

  /**
   * Sends any frame of the protocol once this connection is registered (frames sent while disconnected
   * wait for the next registration, in order) and resolves with the relay's acknowledgement: `{ok: true}`
   * or the relay's typed refusal. Rejects with a RunnerClientError when the ack does not come in
   * `ackTimeoutMs` ("timeout"), the connection drops first ("disconnected"), or the client is closed or
   * refused for good ("closed", or the refusal's code).
   */
  async send<E extends RunnerFrame>(event: E, payload: FramePayload<E>): Promise<FrameReply<E>> {
    if (this.closed) throw this.closedError(event);
    // Re-checked after every wait: a connection may drop between the gate opening and this turn.
    while (!this.registered) {
      if (this.closed) throw this.closedError(event);
      await this.ready.promise.catch(() => {
        throw this.closedError(event);
      });
    }
    const acked = this.socket.timeout(this.ackTimeoutMs) as unknown as { emitWithAck(event: string, payload: unknown): Promise<FrameReply<E>> };
    try {
      return await acked.emitWithAck(event, payload);
    } catch (err) {
      if (this.closed) throw this.closedError(event);
      const timedOut = this.socket.connected && /timed out/i.test(messageOf(err));
      throw new RunnerClientError(timedOut ? "timeout" : "disconnected", `${event}: ${timedOut ? "no acknowledgement in time" : "connection lost before the relay acknowledged it"}`, event);
    }
  }

  /** Disconnects for good; frames still waiting are rejected with code "closed". */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ready.fail(this.closedError());
    this.socket.disconnect();
    // A socket that never connected emits no `disconnect`.
    if (this.currentStatus.state !== "closed" && this.currentStatus.state !== "failed") this.setStatus({ state: "closed", reason: "io client disconnect" });
    this.unwatch();
  }

  private closedError(event?: string): RunnerClientError {
    if (this.refusal) return new RunnerClientError(this.refusal.code, this.refusal.message, event);
    return new RunnerClientError("closed", this.currentStatus.state === "failed" ? `Connection failed: ${this.currentStatus.reason}` : "The client is closed", event);
  }

  private setStatus(status: ConnectionStatus): void {
    // After a registration refusal, the disconnect that follows it is the failure, not a plain close.
    const next: ConnectionStatus =
      this.refusal && status.state === "closed" ? { state: "failed", reason: this.refusal.message, code: this.refusal.code } : status;
    this.currentStatus = next;
    if (next.state === "failed" || (next.state === "closed" && !this.closed)) {
      // No more connections will come (refused, gave up, or the relay ended this one): waiting frames fail.
      this.closed = true;
      this.ready.fail(this.closedError());
    }
    this.emitReserved("status", next);
  }

  /**
   * `register_runner` on every connection, with an ack callback (not a promise: it runs before the
   * relay's disconnect that follows a refusal is processed). A refusal that another attempt cannot fix
   * ends the client; any other (or no answer in time) closes the transport so socket.io-client
   * reconnects with its backoff.
   */
  private register(): void {
    const payload = {
      runnerId: this.options.runnerId,
      runnerSecret: this.options.runnerSecret,
      ...(this.options.name !== undefined ? { name: this.options.name } : {}),
      ...(this.options.roots !== undefined ? { roots: this.options.roots } : {}),
      skills: this.currentSkills,
    };
    const engine = this.socket.io.engine;
    type Registered = FrameReply<"register_runner">;
    const acked = this.socket.timeout(this.ackTimeoutMs) as unknown as {
      emit(event: "register_runner", payload: FramePayload<"register_runner">, ack: (err: Error | null, reply?: Registered) => void): void;
    };
    acked.emit("register_runner", payload, (err, reply) => {
      if (this.closed || this.socket.io.engine !== engine || !this.socket.connected) return; // this connection is already gone
      if (err || !reply) {
        this.emitReserved("error", new RunnerClientError("timeout", "register_runner: no acknowledgement in time", "register_runner"));
        engine.close();
        return;
      }
      if (!reply.ok) {
        const error = new RunnerClientError(reply.error.code, reply.error.message, "register_runner");
        if (!isRetryable(reply.error.code)) {
          this.refusal = reply.error;
          this.emitReserved("error", error);
          this.socket.disconnect();
        } else {
          this.emitReserved("error", error);
          engine.close();
        }
        return;
      }
      this.registeredAs = reply.runnerId;
      this.registered = true;
      this.ready.open();
      this.emitReserved("registered", { runnerId: reply.runnerId, recovered: this.socket.recovered === true });
    });
  }

  private async dispatch<K extends RunnerCommand>(command: K, payload: CommandPayload<K>): Promise<void> {
    const handler = this.handlers[command] as CommandHandler<K> | undefined;
    let called: Called<CommandResult<K>>;
    if (!handler) called = { kind: "missing" };
    else {
      try {
        called = { kind: "ok", value: await handler(payload, this) };
      } catch (err) {
        called = { kind: "threw", message: messageOf(err) };
        this.emitReserved("handler_error", command, err);
      }
    }
    const reply = (REPLIES[command] as (payload: CommandPayload<K>, called: Called<CommandResult<K>>, client: RunnerClient) => AnyFrame | null)(payload, called, this);
    if (!reply) return;
    if (reply.event === "skills_list") this.currentSkills = reply.payload.skills;
    if (reply.event === "skill_result" && reply.payload.ok && reply.payload.skills) this.currentSkills = reply.payload.skills;
    try {
      const ack = await this.send(reply.event, reply.payload as FramePayload<typeof reply.event>);
      if (!ack.ok) this.emitReserved("error", new RunnerClientError(ack.error.code, ack.error.message, reply.event));
    } catch (err) {
      if (!this.closed) this.emitReserved("error", err instanceof RunnerClientError ? err : new RunnerClientError("disconnected", messageOf(err), reply.event));
    }
  }
}
