import { beforeEach, describe, expect, it } from "vitest";
import { ThinkingTracker } from "../../server/sessions/thinking.js";

/**
 * Server-measured thinking durations (legacy 2.7 with the section 14 fix). The tracker takes a clock
 * function, so the time here is a plain variable: no fake timers, no sleeps.
 */

type Block = Record<string, unknown>;
type Stamped = { type: string; message: { role: string; content: Block[] } };

let now = 0;
let tracker: ThinkingTracker;

beforeEach(() => {
  now = 1_000_000;
  tracker = new ThinkingTracker(() => now);
});

const update = (type: string, contentIndex: unknown) => ({
  type: "message_update",
  message: { role: "assistant", content: [] },
  assistantMessageEvent: { type, contentIndex },
});

const assistant = (content: Block[]) => ({ role: "assistant", content });
const messageEnd = (content: Block[]) => ({ type: "message_end", message: assistant(content) });
const turnEnd = (content: Block[]) => ({ type: "turn_end", message: assistant(content), toolResults: [] });

/** Times one thinking block at `index` lasting `ms` milliseconds of the tracker's clock. */
function think(index: number, ms: number): void {
  tracker.process(update("thinking_start", index));
  now += ms;
  tracker.process(update("thinking_end", index));
}

const blocksOf = (event: unknown): Block[] => (event as Stamped).message.content;

describe("ThinkingTracker", () => {
  it("stamps ceil(seconds) per contentIndex on message_end and again on the turn_end that follows", () => {
    think(0, 1_500);
    think(2, 200);
    const content = [
      { type: "thinking", thinking: "first" },
      { type: "text", text: "between" },
      { type: "thinking", thinking: "second" },
    ];

    const end = tracker.process(messageEnd(content));
    expect(blocksOf(end).map((b) => b.durationSeconds)).toEqual([2, undefined, 1]);

    const turn = tracker.process(turnEnd(content));
    expect(blocksOf(turn).map((b) => b.durationSeconds)).toEqual([2, undefined, 1]);
    expect((turn as { toolResults: unknown }).toolResults).toEqual([]);
  });

  it("rounds up: exactly 1000 ms is 1 s, 1001 ms is 2 s, 0 ms is 0 s", () => {
    think(0, 1_000);
    think(1, 1_001);
    think(2, 0);
    const content = [0, 1, 2].map((i) => ({ type: "thinking", thinking: `t${i}` }));
    expect(blocksOf(tracker.process(messageEnd(content))).map((b) => b.durationSeconds)).toEqual([1, 2, 0]);
  });

  it("keeps the durations per index when thinking blocks overlap", () => {
    tracker.process(update("thinking_start", 0));
    now += 400;
    tracker.process(update("thinking_start", 1));
    now += 2_000;
    tracker.process(update("thinking_end", 0)); // 2400 ms
    now += 1_000;
    tracker.process(update("thinking_end", 1)); // 3000 ms
    const content = [
      { type: "thinking", thinking: "a" },
      { type: "thinking", thinking: "b" },
    ];
    expect(blocksOf(tracker.process(messageEnd(content))).map((b) => b.durationSeconds)).toEqual([3, 3]);
  });

  it("does not overwrite a durationSeconds the block already has", () => {
    think(0, 5_000);
    const content = [{ type: "thinking", thinking: "x", durationSeconds: 42 }];
    expect(blocksOf(tracker.process(messageEnd(content)))[0]?.durationSeconds).toBe(42);
    expect(blocksOf(tracker.process(turnEnd(content)))[0]?.durationSeconds).toBe(42);
  });

  it("leaves non-thinking blocks untouched, even with a duration recorded at their index", () => {
    think(0, 3_000);
    const text = { type: "text", text: "not thinking" };
    const end = tracker.process(messageEnd([text]));
    expect(blocksOf(end)[0]).toBe(text);
    expect(blocksOf(end)[0]).not.toHaveProperty("durationSeconds");
  });

  it("does not stamp without a thinking_end (a start alone records nothing)", () => {
    tracker.process(update("thinking_start", 0));
    now += 3_000;
    const event = messageEnd([{ type: "thinking", thinking: "unfinished" }]);
    expect(tracker.process(event)).toBe(event);
  });

  it("ignores a thinking_end without a start", () => {
    now += 3_000;
    tracker.process(update("thinking_end", 0));
    const event = messageEnd([{ type: "thinking", thinking: "x" }]);
    expect(tracker.process(event)).toBe(event);
  });

  it.each([
    ["negative", -1],
    ["fractional", 0.5],
    ["a string", "0"],
    ["missing", undefined],
    ["NaN", Number.NaN],
  ])("ignores a contentIndex that is %s", (_label, index) => {
    tracker.process(update("thinking_start", index));
    now += 2_000;
    tracker.process(update("thinking_end", index));
    const event = messageEnd([{ type: "thinking", thinking: "x" }]);
    expect(tracker.process(event)).toBe(event);
  });

  it("ignores message_update without an assistantMessageEvent object", () => {
    const odd = { type: "message_update", assistantMessageEvent: "thinking_start" };
    expect(tracker.process(odd)).toBe(odd);
    const event = messageEnd([{ type: "thinking", thinking: "x" }]);
    expect(tracker.process(event)).toBe(event);
  });

  it("reset() forgets running and finished timings", () => {
    think(0, 2_000);
    tracker.process(update("thinking_start", 1));
    tracker.reset();
    now += 1_000;
    tracker.process(update("thinking_end", 1));
    const event = messageEnd([
      { type: "thinking", thinking: "a" },
      { type: "thinking", thinking: "b" },
    ]);
    expect(tracker.process(event)).toBe(event);
  });

  it("reset() also forgets what the last message_end stamped, so a later turn_end is not stamped", () => {
    think(0, 2_000);
    const content = [{ type: "thinking", thinking: "a" }];
    expect(blocksOf(tracker.process(messageEnd(content)))[0]?.durationSeconds).toBe(2);
    tracker.reset();
    const turn = turnEnd(content);
    expect(tracker.process(turn)).toBe(turn);
  });

  it("turn_end closes the turn: the next turn's message_end is not stamped with old durations", () => {
    think(0, 2_000);
    const content = [{ type: "thinking", thinking: "a" }];
    tracker.process(messageEnd(content));
    tracker.process(turnEnd(content));
    const next = messageEnd([{ type: "thinking", thinking: "next turn" }]);
    expect(tracker.process(next)).toBe(next);
    const nextTurn = turnEnd([{ type: "thinking", thinking: "next turn" }]);
    expect(tracker.process(nextTurn)).toBe(nextTurn);
  });

  it("does not mutate the input event: the stamped event is a copy", () => {
    think(0, 1_200);
    const input = messageEnd([
      { type: "thinking", thinking: "deep" },
      { type: "text", text: "answer" },
    ]);
    const before = structuredClone(input);
    const out = tracker.process(input);
    expect(input).toEqual(before);
    expect(out).not.toBe(input);
    expect((out as Stamped).message).not.toBe(input.message);
    expect(blocksOf(out)[0]).toEqual({ type: "thinking", thinking: "deep", durationSeconds: 2 });
    // Same for the turn_end copy.
    const turn = turnEnd(structuredClone(before.message.content));
    const turnBefore = structuredClone(turn);
    tracker.process(turn);
    expect(turn).toEqual(turnBefore);
  });

  it("passes through non-records and other event types unchanged", () => {
    for (const value of [null, 7, "text", [1, 2], undefined]) expect(tracker.process(value)).toBe(value);
    think(0, 1_000);
    const other = { type: "agent_end", messages: [assistant([{ type: "thinking", thinking: "x" }])] };
    expect(tracker.process(other)).toBe(other);
  });

  it("leaves a message_end whose message has no content array unchanged", () => {
    think(0, 1_000);
    const noContent = { type: "message_end", message: { role: "assistant", content: "plain" } };
    expect(tracker.process(noContent)).toBe(noContent);
  });

  // pi-agent-core emits, for a turn with tool calls: message_end (assistant), tool_execution_*,
  // message_start/message_end (toolResult) for each result, and only then turn_end {message, toolResults}.
  // The toolResult's message_end overwrites the remembered durations with an empty map, so the turn_end
  // of every tool-using turn goes unstamped (server/sessions/thinking.ts, `case "message_end"`).
  it("stamps turn_end when toolResult message_end events come between the assistant message_end and turn_end", () => {
    think(0, 1_500);
    const content = [
      { type: "thinking", thinking: "plan" },
      { type: "toolCall", id: "call-1", name: "bash", arguments: { command: "ls" } },
    ];
    expect(blocksOf(tracker.process(messageEnd(content)))[0]?.durationSeconds).toBe(2);
    const toolResult = { role: "toolResult", toolCallId: "call-1", toolName: "bash", content: [{ type: "text", text: "a b" }], isError: false };
    tracker.process({ type: "tool_execution_start", toolCallId: "call-1", toolName: "bash", args: {} });
    tracker.process({ type: "tool_execution_end", toolCallId: "call-1", toolName: "bash", result: {}, isError: false });
    tracker.process({ type: "message_start", message: toolResult });
    tracker.process({ type: "message_end", message: toolResult });
    const turn = tracker.process({ type: "turn_end", message: assistant(content), toolResults: [toolResult] });
    expect(blocksOf(turn)[0]?.durationSeconds).toBe(2);
  });
});
