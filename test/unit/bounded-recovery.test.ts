import { Server } from "socket.io";
import { afterEach, describe, expect, it, vi } from "vitest";
import { BoundedRecoveryAdapter, boundedRecoveryAdapter } from "../../server/io/bounded-recovery.js";
import { estimatePacketBytes } from "../../server/io/packet-size.js";

const WINDOW_MS = 120_000;

/**
 * The adapter of a real Socket.IO server's namespace, with recovery on and this budget. The server is
 * attached to nothing (no port, no engine): there is nothing to close, and the adapter's purge timer is unref'd.
 */
function adapterWith(budgetBytes: number): BoundedRecoveryAdapter {
  return adaptersWith(budgetBytes, ["/viewer"])[0] as BoundedRecoveryAdapter;
}

function adaptersWith(budgetBytes: number, namespaces: string[]): BoundedRecoveryAdapter[] {
  const io = new Server({ connectionStateRecovery: { maxDisconnectionDuration: WINDOW_MS }, adapter: boundedRecoveryAdapter(budgetBytes) });
  return namespaces.map((name) => {
    const adapter = io.of(name).adapter;
    if (!(adapter instanceof BoundedRecoveryAdapter)) throw new Error("the namespace did not get the bounded adapter");
    return adapter;
  });
}

/** Emits one event to `room` (as `io.to(room).emit` does) and returns its recovery offset. */
function emit(adapter: BoundedRecoveryAdapter, room: string, payload: unknown): string {
  const data: unknown[] = ["event", payload];
  adapter.broadcast({ type: 2, data }, { rooms: new Set([room]), except: new Set() });
  const offset = data[data.length - 1];
  if (typeof offset !== "string") throw new Error("the adapter kept no offset for the event");
  return offset;
}

/** A client of `room` that lost its connection, as Socket.IO persists it. */
function disconnected(adapter: BoundedRecoveryAdapter, pid: string, room: string): void {
  adapter.persistSession({ sid: `sid-${pid}`, pid, rooms: [`sid-${pid}`, room], data: {} });
}

async function missed(adapter: BoundedRecoveryAdapter, pid: string, offset: string): Promise<number[] | null> {
  const session = await adapter.restoreSession(pid, offset);
  if (!session) return null;
  return session.missedPackets.map((packet) => (packet[1] as { seq: number }).seq);
}

const event = (seq: number, bytes: number) => ({ seq, text: "x".repeat(bytes) });

afterEach(() => {
  vi.useRealTimers();
});

describe("BoundedRecoveryAdapter", () => {
  it("keeps every packet under the budget: a client is recovered with every event after its offset", async () => {
    const adapter = adapterWith(1_000_000);
    const offsets = [1, 2, 3, 4, 5].map((seq) => emit(adapter, "s", event(seq, 10_000)));
    disconnected(adapter, "p1", "s");
    expect(adapter.keptPackets).toBe(5);
    expect(await missed(adapter, "p1", offsets[1] ?? "")).toEqual([3, 4, 5]);
  });

  it("drops the oldest packets beyond the budget; a client whose offset was dropped is not recovered, one whose offset is kept misses nothing", async () => {
    const budget = 100_000;
    const adapter = adapterWith(budget);
    const offsets = Array.from({ length: 30 }, (_, i) => emit(adapter, "s", event(i + 1, 10_000)));
    disconnected(adapter, "early", "s");
    disconnected(adapter, "late", "s");

    expect(adapter.keptBytes).toBeLessThanOrEqual(budget);
    expect(adapter.keptPackets).toBeGreaterThanOrEqual(8);
    expect(adapter.keptPackets).toBeLessThan(10);
    // Its last event (seq 5) is long gone: a fresh connection, never a recovery with a hole.
    expect(await missed(adapter, "early", offsets[4] ?? "")).toBeNull();
    // Seq 25 is kept, so is everything after it.
    expect(await missed(adapter, "late", offsets[24] ?? "")).toEqual([26, 27, 28, 29, 30]);
  });

  it("a packet larger than the whole budget drops everything, itself included", async () => {
    const adapter = adapterWith(100_000);
    const first = emit(adapter, "s", event(1, 1_000));
    disconnected(adapter, "p1", "s");
    const big = emit(adapter, "s", event(2, 200_000));
    disconnected(adapter, "p2", "s");
    expect(adapter.keptPackets).toBe(0);
    expect(adapter.keptBytes).toBe(0);
    expect(await missed(adapter, "p1", first)).toBeNull();
    expect(await missed(adapter, "p2", big)).toBeNull();
    // What comes after is kept again.
    const after = emit(adapter, "s", event(3, 1_000));
    emit(adapter, "s", event(4, 1_000));
    disconnected(adapter, "p3", "s");
    expect(await missed(adapter, "p3", after)).toEqual([4]);
  });

  it("is one budget for all the namespaces of a server: the oldest packets go first, whichever namespace keeps them", async () => {
    const budget = 100_000;
    const [viewer, relay] = adaptersWith(budget, ["/viewer", "/relay"]);
    if (!viewer || !relay) throw new Error("no adapters");
    const viewerOffsets = [1, 2, 3, 4, 5].map((seq) => emit(viewer, "s", event(seq, 10_000)));
    disconnected(viewer, "v", "s");
    const relayOffsets = [6, 7, 8, 9, 10, 11, 12].map((seq) => emit(relay, "c", event(seq, 10_000)));
    disconnected(relay, "c", "c");

    expect(viewer.keptBytes + relay.keptBytes).toBeLessThanOrEqual(budget);
    expect(relay.keptPackets).toBe(7);
    expect(viewer.keptPackets).toBeLessThan(3);
    expect(await missed(viewer, "v", viewerOffsets[0] ?? "")).toBeNull();
    expect(await missed(relay, "c", relayOffsets[0] ?? "")).toEqual([7, 8, 9, 10, 11, 12]);
  });

  it("forgets the sizes of the packets the stock purge expired", () => {
    vi.useFakeTimers({ toFake: ["setInterval", "Date"] });
    const adapter = adapterWith(100_000);
    for (let seq = 1; seq <= 8; seq++) emit(adapter, "s", event(seq, 10_000));
    expect(adapter.keptPackets).toBe(8);
    vi.advanceTimersByTime(WINDOW_MS + 60_000);
    expect(adapter.keptPackets).toBe(0);
    expect(adapter.keptBytes).toBe(0);
    // The budget is whole again: eight more fit without dropping any.
    for (let seq = 9; seq <= 16; seq++) emit(adapter, "s", event(seq, 10_000));
    expect(adapter.keptPackets).toBe(8);
  });
});

describe("estimatePacketBytes", () => {
  it("is about the JSON length, from string lengths", () => {
    const payload = ["event", { sessionId: "abc", seq: 12, event: { type: "session_active", state: { messages: [{ role: "user", text: "y".repeat(100_000) }] } } }, "offset"];
    const json = JSON.stringify(payload).length;
    const estimate = estimatePacketBytes(payload);
    expect(estimate).toBeGreaterThan(json * 0.95);
    expect(estimate).toBeLessThan(json * 1.05);
  });

  it("ends on data that refers to itself", () => {
    const loop: Record<string, unknown> = { text: "z".repeat(1_000) };
    loop.self = loop;
    expect(estimatePacketBytes([loop, loop])).toBeLessThan(1_100);
  });
});
