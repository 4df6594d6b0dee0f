import { LEGACY_TRANSPORT_NAME } from "../../protocol/index.js";

interface ClosableSocket {
  conn: { transport: { name: string }; close(): void };
}

/**
 * Ends a connection the relay could not serve *for now* (shared state or auth backend unavailable) so
 * that the client tries again. Socket.IO clients never reconnect after a server-side disconnect or a
 * handshake refusal, but do after a lost transport: closing the underlying connection hands the retry
 * to socket.io-client's own backoff.
 *
 * Legacy connections are left alone (returns false): the caller keeps the legacy behaviour, which
 * differs by endpoint (a refusal, a closed viewer, an open hub).
 */
export function closeForRetry(socket: ClosableSocket): boolean {
  if (socket.conn.transport.name === LEGACY_TRANSPORT_NAME) return false;
  socket.conn.close();
  return true;
}

/**
 * Closes a connection so that its client connects again (through the load balancer, so possibly to
 * another node): Socket.IO clients get a lost transport (closeForRetry); legacy clients get `sayWhy()`
 * first (an `error` frame whose code gives the close code) and then the close. Only for clients that
 * reconnect by themselves: the legacy CLI, runner and hub do; the legacy viewer and terminal do not.
 */
export function closeToReconnect(socket: ClosableSocket & { disconnect(close: boolean): unknown }, sayWhy: () => void): void {
  if (closeForRetry(socket)) return;
  sayWhy();
  socket.disconnect(true);
}
