import { io, type Socket } from "socket.io-client";
import { DEFAULT_CLIENT_VERSION, FieldCli, fieldAuth, fieldSocketOptions, type CliGeneration, type ReconnectionOptions, type RelayError } from "./cli.js";

/**
 * Runner daemons of the released Socket.IO generations (docs/protocol.md, `/runner`). Like FieldCli,
 * they describe their wire on their own terms: the field daemons cannot follow a change of the relay.
 * They never pass an ack callback.
 */

export type RunnerGeneration = "socket-unversioned" | "socket-v1";

export interface FieldSkill {
  name: string;
  description: string;
  filePath: string;
  content: string;
}

interface RunnerListens {
  runner_registered: (payload: { runnerId: string }) => void;
  error: (error: RelayError) => void;
  new_session: (payload: { sessionId: string; cwd?: string }) => void;
  restart: (payload: unknown) => void;
  new_terminal: (payload: { terminalId: string; cwd?: string; cols: number; rows: number }) => void;
  terminal_input: (payload: { terminalId: string; data: string }) => void;
  terminal_resize: (payload: { terminalId: string; cols: number; rows: number }) => void;
  kill_terminal: (payload: { terminalId: string }) => void;
  list_skills: (payload: { requestId?: string }) => void;
  get_skill: (payload: { name: string; requestId: string }) => void;
  create_skill: (payload: { name: string; content: string; requestId: string }) => void;
  update_skill: (payload: { name: string; content: string; requestId: string }) => void;
  delete_skill: (payload: { name: string; requestId: string }) => void;
}
type RunnerEmits = Record<string, (...args: unknown[]) => void>;

export interface FieldRunnerOptions {
  /** The relay's base URL; the runner connects to `${url}/runner`, its workers to `${url}/relay`. */
  url: string;
  apiKey: string;
  generation: RunnerGeneration;
  /** socket-v1 only; defaults to the generation's release. */
  clientVersion?: string;
  /** The daemon's persistent identity (`~/.pizzapi/runner.json`), in the handshake and in `register_runner`. */
  runnerId: string;
  runnerSecret: string;
  name?: string;
  roots?: string[];
  skills?: FieldSkill[];
  /** Newer releases add `agents`, `plugins`, `hooks`, `version` and `platform` to `register_runner`. */
  extendedRegistration?: boolean;
  /** Start a worker CLI (same generation) for every `new_session`, as the daemon spawns one. */
  spawnWorkers?: boolean;
  /**
   * The worker CLI the daemon spawns, when it is not of the runner's own generation and release (a
   * socket-v1 daemon spawning the newest, input-acknowledging CLI build), and where it connects.
   */
  worker?: { generation?: CliGeneration; clientVersion?: string; url?: string };
  reconnection?: ReconnectionOptions;
}

/**
 * A field runner daemon: `register_runner` on every connect; `new_session` answered at once with
 * `session_ready {sessionId}`, then (if configured) a worker CLI registers on `/relay` with that id;
 * terminal commands answered with plain `terminal_ready` / `terminal_data` (the input echoed, as a PTY
 * would) / `terminal_exit` frames; skill commands with `skill_result` (or `skills_list`) carrying the
 * request's id.
 */
export class FieldRunner {
  readonly socket: Socket<RunnerListens, RunnerEmits>;
  readonly registrations: string[] = [];
  readonly errors: RelayError[] = [];
  readonly connectErrors: Array<{ message: string; data: unknown }> = [];
  /** Every relay command received, in order. */
  readonly commands: Array<{ name: keyof RunnerListens; payload: unknown }> = [];
  /** Worker CLIs by session id. */
  readonly workers = new Map<string, FieldCli>();
  private readonly skills = new Map<string, FieldSkill>();

  constructor(private readonly options: FieldRunnerOptions) {
    for (const skill of options.skills ?? []) this.skills.set(skill.name, skill);
    const auth = fieldAuth(options.generation, { apiKey: options.apiKey, runnerId: options.runnerId, runnerSecret: options.runnerSecret }, options.clientVersion);
    this.socket = io(`${options.url.replace(/\/+$/, "")}/runner`, fieldSocketOptions(auth, options.reconnection));
    this.socket.on("connect", () => this.socket.emit("register_runner", this.registerPayload()));
    this.socket.on("connect_error", (err: Error & { data?: unknown }) => this.connectErrors.push({ message: err.message, data: err.data }));
    this.socket.on("runner_registered", ({ runnerId }) => this.registrations.push(runnerId));
    this.socket.on("error", (error) => this.errors.push(error));
    this.command("new_session", ({ sessionId, cwd }) => {
      this.socket.emit("session_ready", { sessionId });
      if (options.spawnWorkers) this.startWorker(sessionId, cwd);
    });
    this.command("restart", () => undefined);
    this.command("new_terminal", ({ terminalId }) => this.socket.emit("terminal_ready", { terminalId }));
    this.command("terminal_input", ({ terminalId, data }) => this.socket.emit("terminal_data", { terminalId, data }));
    this.command("terminal_resize", () => undefined);
    this.command("kill_terminal", ({ terminalId }) => this.socket.emit("terminal_exit", { terminalId, exitCode: 0 }));
    this.command("list_skills", ({ requestId }) => this.socket.emit("skills_list", { ...(requestId ? { requestId } : {}), skills: this.skillList() }));
    this.command("get_skill", ({ name, requestId }) => {
      const skill = this.skills.get(name);
      this.socket.emit("skill_result", skill ? { requestId, ok: true, name, content: skill.content } : { requestId, ok: false, message: `Skill not found: ${name}` });
    });
    this.command("create_skill", ({ name, content, requestId }) => this.changeSkill(requestId, name, content, false));
    this.command("update_skill", ({ name, content, requestId }) => this.changeSkill(requestId, name, content, true));
    this.command("delete_skill", ({ name, requestId }) => {
      const existed = this.skills.delete(name);
      this.socket.emit("skill_result", existed ? { requestId, ok: true, skills: this.skillList() } : { requestId, ok: false, message: `Skill not found: ${name}` });
    });
  }

  get generation(): RunnerGeneration {
    return this.options.generation;
  }

  start(): this {
    this.socket.connect();
    return this;
  }

  /** An event this relay may not serve (`runner_warning`...), sent as the daemon does: without an ack. */
  emitExtra(event: string, payload: unknown): void {
    this.socket.emit(event, payload);
  }

  /** Closes the control channel and stops every worker (each ends its session). */
  stop(): void {
    for (const worker of this.workers.values()) worker.stop();
    this.socket.disconnect();
  }

  private command<K extends keyof RunnerListens>(name: K, run: (payload: Parameters<RunnerListens[K]>[0]) => void): void {
    const listener = (payload: Parameters<RunnerListens[K]>[0]): void => {
      this.commands.push({ name, payload });
      run(payload);
    };
    // socket.io-client cannot check a listener against an event name that is a type parameter: the
    // payload type above is the same check, made here.
    (this.socket as unknown as { on(event: string, listener: (payload: Parameters<RunnerListens[K]>[0]) => void): void }).on(name, listener);
  }

  private registerPayload(): Record<string, unknown> {
    const { options } = this;
    return {
      runnerId: options.runnerId,
      runnerSecret: options.runnerSecret,
      name: options.name ?? "field-runner",
      roots: options.roots ?? [],
      skills: this.skillList(),
      ...(options.extendedRegistration
        ? { agents: [], plugins: [], hooks: [], version: this.release(), platform: process.platform }
        : {}),
    };
  }

  /** The daemon's release: what it declares as `clientVersion` (socket-v1), else the last unversioned one. */
  private release(): string {
    return this.options.clientVersion ?? (this.options.generation === "socket-v1" ? DEFAULT_CLIENT_VERSION["socket-v1"] : "0.4.0");
  }

  private startWorker(sessionId: string, cwd: string | undefined): void {
    const { options } = this;
    const clientVersion = options.worker?.clientVersion ?? options.clientVersion;
    const worker = new FieldCli({
      url: options.worker?.url ?? options.url,
      apiKey: options.apiKey,
      generation: options.worker?.generation ?? options.generation,
      ...(clientVersion !== undefined ? { clientVersion } : {}),
      sessionId,
      cwd: cwd ?? options.roots?.[0] ?? "/",
      ...(options.reconnection ? { reconnection: options.reconnection } : {}),
    });
    this.workers.set(sessionId, worker);
    worker.start();
  }

  private changeSkill(requestId: string, name: string, content: string, mustExist: boolean): void {
    const existing = this.skills.get(name);
    if (mustExist !== (existing !== undefined)) {
      this.socket.emit("skill_result", { requestId, ok: false, message: mustExist ? `Skill not found: ${name}` : `Skill already exists: ${name}` });
      return;
    }
    this.skills.set(name, { name, description: existing?.description ?? "", filePath: existing?.filePath ?? `skills/${name}/SKILL.md`, content });
    this.socket.emit("skill_result", { requestId, ok: true, skills: this.skillList() });
  }

  private skillList(): Array<Omit<FieldSkill, "content">> {
    return [...this.skills.values()].map(({ name, description, filePath }) => ({ name, description, filePath }));
  }
}
