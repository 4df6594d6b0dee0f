import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { ERRORS } from "../../protocol/index.js";
import type { UpgradeRefusal } from "../plugins/types.js";

/**
 * Answers an upgrade request with a plain HTTP response and closes the socket. Every upgrade the relay
 * does not accept ends here, at once: an unanswered upgrade would hang its client (docs/protocol.md,
 * "Upgrades").
 */
export function refuseUpgrade(socket: Duplex, refusal: UpgradeRefusal): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const status = ERRORS[refusal.code].http;
  const payload = Buffer.from(refusal.body, "utf8");
  const extra = Object.entries(refusal.headers ?? {})
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join("");
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\n` +
      `Content-Type: ${refusal.contentType ?? "text/plain;charset=UTF-8"}\r\n` +
      `Content-Length: ${payload.length}\r\n` +
      extra +
      "Connection: close\r\n\r\n" +
      payload.toString("utf8"),
  );
  // end() flushes and half-closes; a client that never reads must not keep the socket open.
  setTimeout(() => socket.destroy(), 1_000).unref();
}
