import { z } from "zod";
import { errorBody, type ErrorBody } from "./errors.js";

export type Validated<T> = { ok: true; value: T } | { ok: false; error: ErrorBody };

/**
 * Validates an untrusted payload against its schema. Never throws: a mismatch becomes an
 * `invalid_payload` error whose message names the offending fields.
 */
export function validate<S extends z.ZodType>(schema: S, raw: unknown, what = "payload"): Validated<z.output<S>> {
  const result = schema.safeParse(raw);
  if (result.success) return { ok: true, value: result.data };
  const detail = result.error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : what}: ${issue.message}`)
    .join("; ");
  return { ok: false, error: errorBody("invalid_payload", `Invalid ${what}: ${detail}`) };
}
