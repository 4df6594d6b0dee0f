import { describe, expect, it } from "vitest";
import { EventLog } from "../../server/state/event-log.js";
import type { LoggedEvent } from "../../server/state/types.js";

/** The embedded replay log (server/state/event-log.ts) against a plain array doing the same. */
describe("EventLog", () => {
  it("keeps the last `limit` events, with their JSON, times and missing events intact", () => {
    const log = new EventLog();
    log.push(1, 1000, '{"a":1}', 3);
    log.push(2, 2000, undefined, 3);
    log.push(3, 3000, '{"text":"héllo 🍕"}', 3);
    log.push(4, 4000, "[]", 3);
    expect(log.length).toBe(3);
    expect(log.firstSeq).toBe(2);
    expect(log.after(0)).toEqual([
      { seq: 2, ts: 2000, eventJson: undefined },
      { seq: 3, ts: 3000, eventJson: '{"text":"héllo 🍕"}' },
      { seq: 4, ts: 4000, eventJson: "[]" },
    ]);
    expect(log.after(3)).toEqual([{ seq: 4, ts: 4000, eventJson: "[]" }]);
    expect(log.after(4)).toEqual([]);
  });

  it("matches a plain array through thousands of appends, drops, compactions and growths", () => {
    let state = 20240613;
    const random = (): number => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const log = new EventLog();
    const model: LoggedEvent[] = [];
    let limit = 50;
    for (let seq = 1; seq <= 20_000; seq++) {
      if (seq % 5_000 === 0) limit = 1 + Math.floor(random() * 400);
      const size = Math.floor(random() ** 3 * 20_000);
      const eventJson = random() < 0.05 ? undefined : JSON.stringify({ seq, pad: "é".repeat(size % 7) + "x".repeat(size) });
      log.push(seq, seq * 10, eventJson, limit);
      model.push({ seq, ts: seq * 10, eventJson });
      while (model.length > limit) model.shift();
      if (seq % 997 === 0) {
        expect(log.length).toBe(model.length);
        expect(log.firstSeq).toBe(model[0]?.seq);
        const from = model[Math.floor(random() * model.length)]?.seq ?? 0;
        expect(log.after(from - 1)).toEqual(model.filter((e) => e.seq > from - 1));
      }
    }
    expect(log.after(0)).toEqual(model);
  });

  it("holds its JSON plus a few chunks, and reuses them as the log turns over", () => {
    const log = new EventLog();
    const json = JSON.stringify({ pad: "x".repeat(500) });
    for (let seq = 1; seq <= 1_000; seq++) log.push(seq, seq, json, 1_000);
    const live = 1_000 * json.length;
    const held = log.bytesHeld;
    expect(held).toBeGreaterThanOrEqual(live);
    expect(held).toBeLessThanOrEqual(live + 3 * 32 * 1024);
    for (let seq = 1_001; seq <= 20_000; seq++) log.push(seq, seq, json, 1_000);
    expect(log.bytesHeld).toBeLessThanOrEqual(live + 3 * 32 * 1024);
    expect(log.after(19_998)).toEqual([
      { seq: 19_999, ts: 19_999, eventJson: json },
      { seq: 20_000, ts: 20_000, eventJson: json },
    ]);
  });
});
