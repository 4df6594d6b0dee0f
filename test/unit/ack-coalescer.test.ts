import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AckCoalescer } from "../../server/sessions/ack-coalescer.js";

type Listener = (event: string, ...args: unknown[]) => void;

/**
 * A stand-in for a CLI's namespace socket with only what the coalescer touches (its data, `emit`, the
 * outgoing-packet listeners); the e2e suite (test/e2e/ack-coalescing.test.ts) runs the real thing. Here
 * the clock and the timer are vitest's fake ones, to drive thousands of intervals.
 */
function fakeCli(sessionId: string, onEmit: (event: string, payload: unknown) => void = () => undefined) {
  const outgoing: Listener[] = [];
  const socket = {
    id: sessionId,
    connected: true,
    data: { sessionId, lastAckedSeq: 0 },
    nsp: { local: { to: () => ({ emit: () => true }) }, server: { _opts: {} } },
    emit(event: string, payload: unknown) {
      onEmit(event, payload);
      for (const listener of outgoing) listener(event, payload);
      return true;
    },
    onAnyOutgoing(listener: Listener) {
      outgoing.push(listener);
    },
    /** Something else the relay sends this client (a reply, an error): written after its waiting acks. */
    other() {
      for (const listener of outgoing) listener("error", {});
    },
  };
  return socket as typeof socket & Parameters<AckCoalescer["advanced"]>[0];
}

describe("AckCoalescer", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("folds the acks of an interval into one sent when the interval is over, and no later than a tick after", () => {
    const acks = new AckCoalescer(1_000, () => Date.now());
    const sent: Array<{ at: number; seq: number }> = [];
    const cli = fakeCli("s1", (event, payload) => event === "event_ack" && sent.push({ at: Date.now(), seq: (payload as { seq: number }).seq }));
    const start = Date.now();
    for (let seq = 1; seq <= 50; seq++) {
      cli.data.lastAckedSeq = seq;
      acks.advanced(cli, false);
      vi.advanceTimersByTime(10);
    }
    vi.advanceTimersByTime(2_000);
    expect(sent.map((a) => a.seq)).toEqual([1, 50]);
    // The first at once; the fold once the first's interval is over, within one tick (10 ms) of it.
    expect(sent[0]?.at).toBe(start);
    expect((sent[1]?.at ?? 0) - start).toBeGreaterThanOrEqual(1_000);
    expect((sent[1]?.at ?? 0) - start).toBeLessThanOrEqual(1_010);
  });

  it("keeps its schedule bounded when other packets keep sending a legacy CLI's acks before their time", () => {
    const acks = new AckCoalescer(1_000, () => Date.now());
    const cli = fakeCli("s1");
    let highest = 0;
    // An event every millisecond for two minutes, another packet to the CLI every 200 ms.
    for (let ms = 1; ms <= 120_000; ms++) {
      cli.data.lastAckedSeq = ++highest;
      acks.advanced(cli, true);
      if (ms % 200 === 0) cli.other();
      vi.advanceTimersByTime(1);
    }
    // One live entry, plus the stale ones of the last interval's early sends (one per 200 ms): a count
    // that does not grow with time (rescheduling stale entries grew it by about five a second).
    expect(acks.scheduled).toBeLessThanOrEqual(1_000 / 200 + 1);
  });

  it("still sends the acks of a tick after a send that threw", () => {
    const acks = new AckCoalescer(1_000, () => Date.now());
    const got: string[] = [];
    let failing = true;
    const broken = fakeCli("broken", () => {
      if (failing) throw new Error("write failed");
    });
    const healthy = fakeCli("healthy", (event) => event === "event_ack" && got.push("healthy"));
    failing = false;
    for (const cli of [broken, healthy]) {
      cli.data.lastAckedSeq = 1;
      acks.advanced(cli, false);
    }
    got.length = 0;
    vi.advanceTimersByTime(100);
    for (const cli of [broken, healthy]) {
      cli.data.lastAckedSeq = 2;
      acks.advanced(cli, false);
    }
    failing = true;
    expect(() => vi.advanceTimersByTime(1_000)).toThrow("write failed");
    failing = false;
    vi.advanceTimersByTime(20);
    expect(got).toEqual(["healthy"]);
  });
});
