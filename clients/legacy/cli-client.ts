import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import WebSocket from "ws";
import { CLI_BACKOFF, LegacyBackoff } from "./backoff.js";

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
 * A faithful v0.1.x CLI ("remote" extension, legacy-protocol.md sections 2.3, 2.4 and 10): `register`
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
  private ws: WebSocket | null = null;
  private registration: Registered | null = null;
  private seq = 0;
  ackedSeq = 0;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly backoff: LegacyBackoff;
  private readonly url: string;

  constructor(private readonly options: LegacyCliOptions) {
    super();
    this.sessionId = options.sessionId ?? randomUUID();
    const scale = options.backoffScale ?? 1;
    this.backoff = new LegacyBackoff(CLI_BACKOFF.initialMs * scale, CLI_BACKOFF.maxMs * scale);
    const base = options.relayUrl.replace(/^http/, "ws").replace(/\/+$/, "");
    this.url = base.endsWith("/ws/sessions") ? base : `${base}/ws/sessions`;
  }

  get registered(): Registered | null {
    return this.registration;
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  /** Publishes an agent event; dropped (returns false) while not registered, as the legacy CLI did. */
  forward(event: Record<string, unknown>): boolean {
    const reg = this.registration;
    if (!reg || !this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.seq += 1;
    this.ws.send(JSON.stringify({ type: "event", sessionId: reg.sessionId, token: reg.token, event, seq: this.seq }));
    return true;
  }

  /** Sends a raw frame (exec_result, or anything a test needs). */
  send(frame: Record<string, unknown>): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  /** `/remote stop`: session_end, then close; no reconnect. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.heartbeatTimer);
    const reg = this.registration;
    if (reg && this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: "session_end", sessionId: reg.sessionId, token: reg.token }));
    this.registration = null;
    this.ws?.close();
  }

  private connect(): void {
    const ws = new WebSocket(this.url, { headers: { "x-api-key": this.options.apiKey } });
    this.ws = ws;
    // Listen before `open` resolves anything: the relay's first frame may come in the same read.
    ws.on("message", (data) => this.onMessage(data.toString()));
    ws.on("open", () => {
      this.backoff.reset();
      ws.send(JSON.stringify({ type: "register", sessionId: this.sessionId, cwd: this.options.cwd ?? process.cwd(), collabMode: true, sessionName: this.options.sessionName ?? null }));
    });
    ws.on("unexpected-response", (_req, res) => {
      // A refused upgrade (401 wrong key, 410 legacy retired, ...): report it; the close follows.
      let body = "";
      res.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
      res.on("end", () => {
        this.emit("refused", { status: res.statusCode ?? 0, body });
        ws.terminate();
      });
    });
    ws.on("error", () => undefined); // the close that follows schedules the reconnect
    ws.on("close", (code, reason) => {
      clearInterval(this.heartbeatTimer);
      this.registration = null;
      this.emit("close", { code, reason: reason.toString() });
      if (this.stopped) return;
      this.reconnectTimer = setTimeout(() => this.connect(), this.backoff.next());
    });
  }

  private onMessage(text: string): void {
    let frame: Record<string, unknown>;
    try {
      frame = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
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
