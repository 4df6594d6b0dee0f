/**
 * Every error code of the relay and what it means on each wire, in one table (docs/protocol.md,
 * "Replies and errors"): the Socket.IO answer (`{code, message}` in an ack, an `error` event or a
 * `connect_error`), the HTTP status of a REST route or a refused upgrade, the close code a legacy
 * `/ws/*` connection gets when the relay closes it for this reason, and whether a client should retry.
 * Server and clients read the retry decision from here; nothing else decides it.
 *
 * No dependencies, so the browser clients can import it without zod.
 */
export type HttpErrorStatus = 400 | 401 | 403 | 404 | 409 | 410 | 429 | 500 | 503;

export interface ErrorSpec {
  /** Default message (a refusal may carry a more specific one). */
  message: string;
  /** HTTP status of the same refusal on REST routes and upgrade requests. */
  http: HttpErrorStatus;
  /**
   * Close code of a legacy connection the relay closes for this reason (1008 policy, 1011 server fault,
   * 1012 service restart).
   */
  legacyClose: 1008 | 1011 | 1012;
  /**
   * The relay's own failure, not the client's: the client should try again later (with backoff). A
   * Socket.IO connection refused for such a reason is closed rather than refused, so socket.io-client's
   * reconnection retries it (a refusal would be final).
   */
  retry: boolean;
}

export const ERRORS = {
  invalid_payload: { message: "The payload does not match the event's schema", http: 400, legacyClose: 1008, retry: false },
  invalid_token: { message: "Invalid token", http: 401, legacyClose: 1008, retry: false },
  not_registered: { message: "This connection has not registered a session", http: 409, legacyClose: 1008, retry: false },
  not_found: { message: "No such session", http: 404, legacyClose: 1008, retry: false },
  forbidden: { message: "Not allowed", http: 403, legacyClose: 1008, retry: false },
  unauthorized: { message: "Authentication required", http: 401, legacyClose: 1008, retry: false },
  auth_unavailable: { message: "The authentication backend is unavailable", http: 503, legacyClose: 1011, retry: true },
  untrusted_origin: { message: "The request's Origin is not trusted", http: 403, legacyClose: 1008, retry: false },
  unsupported_protocol: { message: "Unsupported protocol version", http: 400, legacyClose: 1008, retry: false },
  unknown_event: { message: "This relay does not serve that event", http: 404, legacyClose: 1008, retry: false },
  protocol_retired: {
    message: "This client's protocol is retired on this relay: upgrade the pizzapi client",
    http: 410,
    legacyClose: 1008,
    retry: false,
  },
  limit_exceeded: { message: "A limit of this relay was reached", http: 429, legacyClose: 1008, retry: false },
  rate_limited: { message: "Too many events: slow down", http: 429, legacyClose: 1008, retry: true },
  internal: { message: "Internal error", http: 500, legacyClose: 1011, retry: true },
  unavailable: { message: "The shared state is unavailable", http: 503, legacyClose: 1011, retry: true },
  node_stopping: { message: "This relay node is restarting: reconnect", http: 503, legacyClose: 1012, retry: true },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

export const ERROR_CODE_LIST = Object.keys(ERRORS) as [ErrorCode, ...ErrorCode[]];

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.hasOwn(ERRORS, code);
}

/** True for the relay's own transient failures: try again later. Unknown codes are final. */
export function isRetryable(code: unknown): boolean {
  return isErrorCode(code) && ERRORS[code].retry;
}
