/**
 * JSON a value's sender already has, carried with the value: a session event is stringified once, for
 * the log, and its broadcast (server/io/in-process-parser.ts) and its legacy frames (the bridge) write
 * that text instead of stringifying the event again (docs/performance.md "One stringify per event").
 *
 * The text must be exactly `JSON.stringify(value)`, and the value must not change afterwards. The mark
 * is a symbol, which JSON and the adapters' serialisers (they list `Object.keys`) never see. It names
 * the object it was given to: a copy made with `{...value}` (which may then differ) carries a mark that
 * does not count. (A plain property set: `Object.defineProperty` cost ten times as much per event.)
 */
const KNOWN = Symbol("pizzapi.knownJson");
type Marked = { [KNOWN]?: { of: object; json: string } };

/** Marks `value` as encoded by `json`. */
export function withEncoding<T extends object>(value: T, json: string): T {
  (value as Marked)[KNOWN] = { of: value, json };
  return value;
}

/** The JSON `value` carries, if it was marked itself (not a copy of a marked object). */
export function knownJson(value: object): string | undefined {
  const mark = (value as Marked)[KNOWN];
  return mark !== undefined && mark.of === value ? mark.json : undefined;
}

/**
 * `JSON.stringify(frame)` for a plain object whose fields may carry their JSON: theirs is used, the
 * other fields are stringified. Key for key what JSON.stringify writes (own enumerable string keys in
 * order, fields stringifying to undefined left out).
 */
export function stringifyFrame(frame: Record<string, unknown>): string {
  const own = knownJson(frame);
  if (own !== undefined) return own;
  if (typeof frame.toJSON === "function") return JSON.stringify(frame);
  let body = "";
  for (const key of Object.keys(frame)) {
    const value = frame[key];
    const json = (typeof value === "object" && value !== null ? knownJson(value) : undefined) ?? (JSON.stringify(value) as string | undefined);
    if (json === undefined) continue;
    body += `${body === "" ? "" : ","}${JSON.stringify(key)}:${json}`;
  }
  return `{${body}}`;
}
