import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { CLI_BACKOFF } from "./backoff.js";
import { LegacySocket } from "./socket.js";

export interface LegacyCliOptions {
  /** Relay base URL (`http(s)://` or `ws(s)://`); `/ws/sessions` is appended unless present. */
  relayUrl: string;
  apiKey: string;
  /** `PIZZAPI_SESSION_ID` of a runner worker; a random UUID otherwise (fixed for the client's life). */
  sessionId?: string;
  cwd?: string;
  sessionName?: string | null;
  /** The heartbeat payload (`event.type = "heartbeat"`), sent on registration and every heartbeatMs. */
  heartbeat?: () => Record<string, unknown>;
  /** The `session_active` state sent after every registration (undefined: no context yet). */
  state?: () => unknown;
  heartbeatMs?: number;
  /** Scale the legacy backoff (tests); 1 = the deployed timings. */
  backoffScale?: number;
}

export interface Registered {
  sessionId: string;
  token: string;
  shareUrl: string;
  isEphemeral: boolean;
  collabMode: boolean;
}

/**
 * A faithful v0.1.x CLI ("remote" extension, docs/legacy-protocol.md sections 2.3, 2.4 and 10): `register`
 * on every open with the same session id, then `session_active` and a heartbeat (and one every 10 s);
 * events carry `{sessionId, token, event, seq}` with `seq` restarting at 1 per registration; events
 * produced while disconnected are dropped (the legacy client had no buffer); `event_ack` is recorded
 * and never used; reconnect with the legacy backoff until `stop()`, which sends `session_end`.
 *
 * Events: `registered` (Registered), `frame` (every frame received), `input`, `model_set`, `exec`,
 * `connected`, `error`, `close` ({code, reason}), `refused` ({status, body} of a refused upgrade).
 */
export class LegacyCliClient extends EventEmitter {
  readonly sessionId: string;
  private readonly socket: LegacySocket;
  private registration: Registered | null = null;
  private seq = 0;
  ackedSeq = 0;
  private heartbeatTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: LegacyCliOptions) {
    super();
    this.sessionId = options.sessionId ?? randomUUID();
    const base = options.relayUrl.replace(/\/+$/, "");
    this.socket = new LegacySocket({
      url: base.endsWith("/ws/sessions") ? base : `${base}/ws/sessions`,
      headers: { "x-api-key": options.apiKey },
      backoff: CLI_BACKOFF,
      backoffScale: options.backoffScale,
    });
    this.socket.on("open", () =>
      this.socket.send({ type: "register", sessionId: this.sessionId, cwd: this.options.cwd ?? process.cwd(), collabMode: true, sessionName: this.options.sessionName ?? null }),
    );
    this.socket.on("frame", (frame: Record<string, unknown>) => this.onFrame(frame));
    this.socket.on("refused", (refusal: unknown) => this.emit("refused", refusal));
    this.socket.on("close", (close: unknown) => {
      clearInterval(this.heartbeatTimer);
      this.registration = null;
      this.emit("close", close);
    });
  }

  /** The `seq` of the last event sent in the current registration (0 right after `registered`). */
  get sentSeq(): number {
    return this.seq;
  }

  get registered(): Registered | null {
    return this.registration;
  }

  start(): void {
    this.socket.start();
  }

  /** Publishes an agent event; dropped (returns false) while not registered, as the legacy CLI did. */
  forward(event: Record<string, unknown>): boolean {
    const reg = this.registration;
    if (!reg) return false;
    const sent = this.socket.send({ type: "event", sessionId: reg.sessionId, token: reg.token, event, seq: this.seq + 1 });
    if (sent) this.seq += 1;
    return sent;
  }

  /** Sends a raw frame (exec_result, or anything a test needs). */
  send(frame: Record<string, unknown>): void {
    this.socket.send(frame);
  }

  /** `/remote stop`: session_end, then close; no reconnect. */
  stop(): void {
    clearInterval(this.heartbeatTimer);
    const reg = this.registration;
    if (reg) this.socket.send({ type: "session_end", sessionId: reg.sessionId, token: reg.token });
    this.registration = null;
    this.socket.stop();
  }

  private onFrame(frame: Record<string, unknown>): void {
    this.emit("frame", frame);
    switch (frame.type) {
      case "registered":
        this.registration = frame as unknown as Registered;
        this.seq = 0;
        this.ackedSeq = 0;
        this.emit("registered", this.registration);
        this.forward({ type: "session_active", state: this.options.state?.() });
        this.sendHeartbeat();
        clearInterval(this.heartbeatTimer);
        this.heartbeatTimer = setInterval(() => this.sendHeartbeat(), this.options.heartbeatMs ?? 10_000);
        this.heartbeatTimer.unref();
        return;
      case "event_ack":
        if (typeof frame.seq === "number") this.ackedSeq = Math.max(this.ackedSeq, frame.seq);
        return;
      case "connected":
        // A viewer joined: the CLI answers with capabilities and a fresh session_active.
        this.emit("connected");
        this.forward({ type: "capabilities", models: [], commands: [] });
        this.forward({ type: "session_active", state: this.options.state?.() });
        return;
      case "input":
      case "model_set":
      case "exec":
      case "error":
      case "session_expired":
        this.emit(frame.type, frame);
        return;
      default:
        return;
    }
  }

  private sendHeartbeat(): void {
    this.forward({ type: "heartbeat", active: false, ts: Date.now(), ...this.options.heartbeat?.() });
  }
}
