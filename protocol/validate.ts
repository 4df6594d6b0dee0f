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

/**
 * True when `value` nests objects or arrays deeper than `limit` levels (a scalar is depth 0, `[]` is 1).
 * Iterative, so a hostile value cannot overflow the stack here; it runs before any recursive walk
 * (JSON.stringify, socket.io-parser's binary check, msgpack) sees untrusted data (docs/protocol.md,
 * "Limits").
 */
export function nestedDeeperThan(value: unknown, limit: number): boolean {
  if (typeof value !== "object" || value === null) return false;
  const stack: Array<[object, number]> = [[value, 1]];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [node, depth] = next;
    if (depth > limit) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (typeof child === "object" && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}
