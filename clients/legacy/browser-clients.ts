import { HUB_BACKOFF } from "./backoff.js";
import { LegacySocket, type Frame } from "./socket.js";

/**
 * The v0.1.x browser UI's three sockets (docs/legacy-protocol.md section 10), for tests, benchmarks and
 * operators. They authenticate with the login cookie, as the browser does.
 */

/** `/ws/sessions/:id`: no automatic reconnect; answers `connected` with `{type:"connected"}`; `resync` on a seq gap. */
export class LegacyViewerClient extends LegacySocket {
  lastSeq = 0;
  resyncs = 0;

  constructor(relayUrl: string, cookie: string, readonly sessionId: string) {
    super({ url: `${relayUrl.replace(/\/+$/, "")}/ws/sessions/${sessionId}`, headers: { cookie }, backoff: null });
    this.on("frame", (frame: Frame) => {
      if (frame.type === "connected" && typeof frame.lastSeq === "number") {
        this.lastSeq = frame.lastSeq;
        this.send({ type: "connected" });
      } else if (frame.type === "event" && typeof frame.seq === "number") {
        if (frame.seq > this.lastSeq + 1) {
          this.resyncs += 1;
          this.send({ type: "resync" });
        }
        this.lastSeq = frame.seq;
      }
    });
  }
}

/** `/ws/hub`: reconnects with the legacy backoff (1 s doubling to 30 s); sends nothing. */
export class LegacyHubClient extends LegacySocket {
  constructor(relayUrl: string, cookie: string, backoffScale = 1) {
    super({ url: `${relayUrl.replace(/\/+$/, "")}/ws/hub`, headers: { cookie }, backoff: HUB_BACKOFF, backoffScale });
  }
}

/** `/ws/terminal/:id`: no reconnect; on `terminal_connected` sends its fitted size (the deferred spawn). */
export class LegacyTerminalClient extends LegacySocket {
  constructor(relayUrl: string, cookie: string, readonly terminalId: string, size: { cols: number; rows: number } = { cols: 80, rows: 24 }) {
    super({ url: `${relayUrl.replace(/\/+$/, "")}/ws/terminal/${terminalId}`, headers: { cookie }, backoff: null });
    this.on("frame", (frame: Frame) => {
      if (frame.type === "terminal_connected") this.send({ type: "terminal_resize", cols: size.cols, rows: size.rows });
    });
  }

  /** Keystrokes, base64-encoded as the browser's `btoa` does for Latin-1 input. */
  input(text: string): boolean {
    return this.send({ type: "terminal_input", data: Buffer.from(text, "latin1").toString("base64") });
  }
}
