import { errorBody } from "../protocol/index.js";
import { RequestError } from "./io/handlers.js";

/**
 * The limits of docs/protocol.md ("Limits and hostile input"), applied where a client's input enters the
 * relay. Their values are settings (RelayConfig.limits).
 */

/** What is wrong with the first text field (or list of them) longer than `maxBytes` in UTF-8, or null. */
export function oversizedField(fields: Record<string, unknown>, maxBytes: number): string | null {
  for (const [name, value] of Object.entries(fields)) {
    const values: unknown[] = Array.isArray(value) ? value : [value];
    for (const text of values) {
      if (typeof text === "string" && Buffer.byteLength(text, "utf8") > maxBytes) return `${name} is longer than ${maxBytes} bytes (PIZZAPI_MAX_FIELD_BYTES)`;
    }
  }
  return null;
}

/** Refuses (`invalid_payload`, naming the field) a text field longer than `maxBytes`. */
export function checkFieldSizes(fields: Record<string, unknown>, maxBytes: number): void {
  const problem = oversizedField(fields, maxBytes);
  if (problem) throw new RequestError(errorBody("invalid_payload", problem));
}

/** A name the relay keeps from an agent event (not refused: the event itself is fine), cut to size. */
export function boundedText(value: string | null, maxBytes: number): string | null {
  return value === null ? null : cutToBytes(value, maxBytes);
}

/**
 * `value` cut to at most `maxBytes` of UTF-8, never splitting a character. Linear in `maxBytes`, not in
 * the input: a UTF-16 unit is at least one byte, so the first `maxBytes` units hold every candidate
 * (trimming a megabyte one unit at a time from the end once stalled a node for over a minute).
 */
export function cutToBytes(value: string, maxBytes: number): string {
  if (Buffer.byteLength(value, "utf8") <= maxBytes) return value;
  let cut = value.slice(0, maxBytes);
  while (Buffer.byteLength(cut, "utf8") > maxBytes) cut = cut.slice(0, -1);
  // A lone high surrogate left at the end would encode as U+FFFD (3 bytes): drop it.
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return cut;
}
