/**
 * JSON a value's sender already has, carried with the value: a session event is stringified once, for
 * the log, and its broadcast (server/io/in-process-parser.ts) and its legacy frames (the bridge) write
 * that text instead of stringifying the event again (docs/performance.md "One stringify per event, fewer
 * promises").
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
  return knownJson(frame) ?? composedJson(frame, false) ?? JSON.stringify(frame);
}

/**
 * The JSON of a plain object put together from its fields' carried JSON, for an encoder that must not
 * stringify what it cannot see into (Socket.IO looks for binary in every object it sends): undefined
 * unless a field carries its JSON and every other field is not an object. The broadcast of an event
 * marks only the event; its payload's JSON is made here.
 */
export function payloadJson(payload: object): string | undefined {
  return composedJson(payload, true);
}

/**
 * The object's JSON from its fields, each field's own carried JSON where it has one. Undefined when no
 * field carries JSON, and (`strict`) when a field is an object that does not (it might hold anything).
 */
function composedJson(frame: object, strict: boolean): string | undefined {
  const proto: unknown = Object.getPrototypeOf(frame);
  if (proto !== Object.prototype && proto !== null) return undefined;
  const fields = frame as Record<string, unknown>;
  if (typeof fields.toJSON === "function") return undefined;
  const keys = Object.keys(fields);
  // No field carries its JSON (a legacy `event_ack`, most frames): one JSON.stringify of the whole
  // frame, by the caller, does the same work in one call instead of one per field.
  if (!keys.some((key) => carriesJson(fields[key]))) return undefined;
  let body = "";
  for (const key of keys) {
    const value = fields[key];
    let json: string | undefined;
    if (typeof value === "object" && value !== null) {
      json = knownJson(value);
      if (json === undefined && strict) return undefined;
      json ??= JSON.stringify(value);
    } else json = JSON.stringify(value) as string | undefined;
    if (json === undefined) continue;
    body += `${body === "" ? "" : ","}${JSON.stringify(key)}:${json}`;
  }
  return `{${body}}`;
}

function carriesJson(value: unknown): boolean {
  return typeof value === "object" && value !== null && knownJson(value) !== undefined;
}
