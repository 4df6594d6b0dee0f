import { z } from "zod";

/**
 * Stable error codes of the typed protocol, shared by acks, `error` events and `connect_error`s.
 * One table, so clients can switch on `code` and operators can count errors by code.
 */
export const ERROR_CODES = {
  invalid_payload: "The payload does not match the event's schema",
  invalid_token: "Invalid token",
  not_registered: "This connection has not registered a session",
  not_found: "No such session",
  forbidden: "Not allowed",
  unauthorized: "Authentication required",
  auth_unavailable: "The authentication backend is unavailable",
  untrusted_origin: "The request's Origin is not trusted",
  unsupported_protocol: "Unsupported protocol version",
  internal: "Internal error",
  unavailable: "The shared state is unavailable",
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export const ErrorBodySchema = z.object({
  code: z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]),
  message: z.string(),
});
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

/** The reply of every acknowledged request: the result, or a typed error. */
export type Reply<T extends object = Record<never, never>> = ({ ok: true } & T) | { ok: false; error: ErrorBody };

export type Ack<T extends object = Record<never, never>> = (reply: Reply<T>) => void;

export function errorBody(code: ErrorCode, message: string = ERROR_CODES[code]): ErrorBody {
  return { code, message };
}

export function failure(code: ErrorCode, message?: string): { ok: false; error: ErrorBody } {
  return { ok: false, error: errorBody(code, message) };
}

/**
 * `connect_error` data for refused handshakes. Socket.IO passes `err.data` to the client's
 * `connect_error` listener, so the client sees `{ code, message }` typed by ErrorCode.
 */
export class HandshakeError extends Error {
  readonly data: ErrorBody;
  constructor(code: ErrorCode, message: string = ERROR_CODES[code]) {
    super(message);
    this.name = "HandshakeError";
    this.data = { code, message };
  }
}
