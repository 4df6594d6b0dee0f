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
  if (value === null || Buffer.byteLength(value, "utf8") <= maxBytes) return value;
  let cut = value.slice(0, maxBytes);
  while (Buffer.byteLength(cut, "utf8") > maxBytes) cut = cut.slice(0, -1);
  return cut;
}
