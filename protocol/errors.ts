import { z } from "zod";
import { ERROR_CODE_LIST, ERRORS, type ErrorCode } from "./error-codes.js";

export { ERRORS, isErrorCode, isRetryable, type ErrorCode, type ErrorSpec, type HttpErrorStatus } from "./error-codes.js";

export const ErrorBodySchema = z.object({
  code: z.enum(ERROR_CODE_LIST),
  message: z.string(),
});
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

/** The reply of every acknowledged request: the result, or a typed error. */
export type Reply<T extends object = Record<never, never>> = ({ ok: true } & T) | { ok: false; error: ErrorBody };

export type Ack<T extends object = Record<never, never>> = (reply: Reply<T>) => void;

export function errorBody(code: ErrorCode, message: string = ERRORS[code].message): ErrorBody {
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
  constructor(code: ErrorCode, message: string = ERRORS[code].message) {
    super(message);
    this.name = "HandshakeError";
    this.data = { code, message };
  }
}
