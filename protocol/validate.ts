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
  // Two parallel stacks and no per-node arrays: it runs on every client event (docs/performance.md).
  const nodes: object[] = [value];
  const depths: number[] = [1];
  for (let node = nodes.pop(); node !== undefined; node = nodes.pop()) {
    const depth = depths.pop() ?? 0;
    if (depth > limit) return true;
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        const child: unknown = node[i];
        if (typeof child === "object" && child !== null) (nodes.push(child), depths.push(depth + 1));
      }
      continue;
    }
    for (const key in node) {
      if (!Object.hasOwn(node, key)) continue;
      const child: unknown = (node as Record<string, unknown>)[key];
      if (typeof child === "object" && child !== null) (nodes.push(child), depths.push(depth + 1));
    }
  }
  return false;
}
