import { describe, expect, it } from "vitest";
import { knownJson, stringifyFrame, withEncoding } from "../../server/io/known-json.js";

/** Carried JSON (server/io/known-json.ts): the text written must be what JSON.stringify would write. */
describe("known JSON", () => {
  const event = (): Record<string, unknown> => ({ type: "message_update", text: "héllo \"🍕\"\n", n: [1, null, true], nested: { a: { b: 2 } } });

  it("writes a frame key for key as JSON.stringify does, with its marked fields' own JSON", () => {
    const frames = (): Array<Record<string, unknown>> => [
      { type: "event", event: event(), seq: 7 },
      { type: "event", seq: 8, skipped: undefined, fn: () => 1, event: event(), last: null },
      { type: "event", when: new Date(0), list: [event()], event: event() },
      {},
    ];
    const plain = frames();
    const marked = frames().map((frame) => {
      if (typeof frame.event === "object" && frame.event !== null) withEncoding(frame.event, JSON.stringify(frame.event));
      return frame;
    });
    for (let i = 0; i < plain.length; i++) expect(stringifyFrame(marked[i] ?? {})).toBe(JSON.stringify(plain[i]));
  });

  it("uses the carried text (so a wrong one shows), and only on the object it was given to", () => {
    const e = withEncoding(event(), '{"carried":true}');
    expect(knownJson(e)).toBe('{"carried":true}');
    expect(stringifyFrame({ type: "event", event: e, seq: 1 })).toBe('{"type":"event","event":{"carried":true},"seq":1}');
    // A copy carries the mark (spread copies symbols) but it does not count; JSON never shows it.
    const copy = { ...e, text: "changed" };
    expect(knownJson(copy)).toBeUndefined();
    expect(stringifyFrame({ event: copy })).toBe(JSON.stringify({ event: copy }));
    expect(JSON.stringify(e)).toBe(JSON.stringify(event()));
    // A marked frame is its own text.
    expect(stringifyFrame(withEncoding({ a: 1 }, '{"a":1}'))).toBe('{"a":1}');
  });

  it("stringifies what is not a plain object as JSON.stringify does", () => {
    const e = withEncoding(event(), JSON.stringify(event()));
    class Frame {
      constructor(readonly event: unknown) {}
      extra(): number {
        return 1;
      }
    }
    const odd = [Object.assign([e, 1], { note: "x" }), new Frame(e), { toJSON: () => ({ replaced: true }), event: e }];
    for (const frame of odd) expect(stringifyFrame(frame as unknown as Record<string, unknown>)).toBe(JSON.stringify(frame));
  });
});
