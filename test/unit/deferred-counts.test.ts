import { Counter, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { DeferredCounts } from "../../server/observability/deferred-counts.js";

/** Counts kept in plain numbers reach a real prom-client counter whenever its registry is read. */
describe("DeferredCounts", () => {
  it("shows every increment at each read, once, per label set", async () => {
    const registry = new Registry();
    const counts = new DeferredCounts<"stack">();
    new Counter({
      name: "test_events_total",
      help: "test",
      labelNames: ["stack"],
      registers: [registry],
      collect() {
        counts.flushInto(this);
      },
    });
    const legacy = counts.bind({ stack: "legacy" });
    const socketio = counts.bind({ stack: "socketio" });
    const value = async (stack: string): Promise<number | undefined> =>
      (await registry.getSingleMetric("test_events_total")?.get())?.values.find((v) => v.labels.stack === stack)?.value;

    for (let i = 0; i < 3; i++) legacy.inc();
    socketio.inc();
    expect(await registry.metrics()).toContain('test_events_total{stack="legacy"} 3');
    expect(await value("socketio")).toBe(1);
    // A read adds nothing by itself; later increments add up on top.
    expect(await value("legacy")).toBe(3);
    legacy.inc();
    expect(await value("legacy")).toBe(4);
    expect(await value("socketio")).toBe(1);
  });
});
