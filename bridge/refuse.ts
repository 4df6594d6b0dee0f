import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";

/**
 * Answers an upgrade request with a plain HTTP response and closes the socket: the legacy relay's
 * refusals are exact status codes with short text bodies (legacy-protocol.md section 1).
 */
export function refuseUpgrade(socket: Duplex, status: number, body: string, contentType = "text/plain;charset=UTF-8"): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const payload = Buffer.from(body, "utf8");
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\n` +
      `Content-Type: ${contentType}\r\n` +
      `Content-Length: ${payload.length}\r\n` +
      "Connection: close\r\n\r\n" +
      payload.toString("utf8"),
  );
}
