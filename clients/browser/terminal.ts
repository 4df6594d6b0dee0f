import { io, type Socket } from "socket.io-client";
import type { TerminalClientToServer, TerminalServerToClient } from "../../protocol/namespaces/terminal.js";
import type { ConnectionStatus } from "../socketio/status.js";
import { BrowserClient, namespaceUrl, socketOptions, StatusFeed, type BaseClientOptions, type ClientErrorInfo } from "./shared.js";

export type TerminalSocket = Socket<TerminalServerToClient, TerminalClientToServer>;

export interface TerminalClientOptions extends BaseClientOptions {
  terminalId: string;
}

type Frame<E extends keyof TerminalServerToClient> = Parameters<TerminalServerToClient[E]>[0];

export interface TerminalClientEvents {
  status: (status: ConnectionStatus) => void;
  /** Attached (after any output buffered while no browser was): send the size now (`resize`) to spawn the PTY. */
  connected: (frame: Frame<"terminal_connected">) => void;
  ready: (frame: Frame<"terminal_ready">) => void;
  /** PTY output, base64. */
  data: (frame: Frame<"terminal_data">) => void;
  exit: (frame: Frame<"terminal_exit">) => void;
  /** A terminal error (runner or attach: "Terminal not found", "Forbidden") or a typed relay error (`code`). */
  error: (error: ClientErrorInfo) => void;
}

/**
 * `/terminal`: a browser's view of a runner PTY. Attaching replaces any other browser on the same
 * terminal; every reconnection re-attaches (and gets the output buffered meanwhile).
 */
export class TerminalClient extends BrowserClient<TerminalSocket, TerminalClientEvents> {
  readonly terminalId: string;
  readonly socket: TerminalSocket;
  protected readonly feed: StatusFeed;

  constructor(options: TerminalClientOptions) {
    super();
    this.terminalId = options.terminalId;
    this.socket = io(namespaceUrl(options.url, "/terminal"), socketOptions(options, () => ({ terminalId: this.terminalId })));
    this.feed = new StatusFeed(this.socket, (status) => this.emitReserved("status", status));
    const socket = this.socket;
    socket.on("terminal_connected", (frame) => this.emitReserved("connected", frame));
    socket.on("terminal_ready", (frame) => this.emitReserved("ready", frame));
    socket.on("terminal_data", (frame) => this.emitReserved("data", frame));
    socket.on("terminal_exit", (frame) => this.emitReserved("exit", frame));
    socket.on("terminal_error", ({ message }) => this.fail({ message }));
    socket.on("error", ({ code, message }) => this.fail({ code, message }));
  }

  /** The terminal's size; the first resize of an unspawned terminal spawns its PTY. */
  resize(cols: number, rows: number): void {
    this.socket.emit("terminal_resize", { cols, rows });
  }

  /** Keystrokes, base64-encoded. */
  write(dataBase64: string): void {
    this.socket.emit("terminal_input", { data: dataBase64 });
  }

  kill(): void {
    this.socket.emit("kill_terminal", {});
  }

  private fail(error: ClientErrorInfo): void {
    this.feed.error(error);
    this.emitReserved("error", error);
  }
}
