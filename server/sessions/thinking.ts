/**
 * Server-measured thinking durations (docs/legacy-protocol.md 2.7, with the section 14 fix): the relay times
 * `thinking_start` → `thinking_end` per content index and stamps `durationSeconds` on the thinking blocks
 * of `message_end` AND of the `turn_end` that follows it (the legacy relay cleared its maps at
 * `message_end`, so `turn_end` was never stamped). State is per session and lives with the CLI's
 * connection: a reconnect starts fresh, as the legacy relay did.
 */
export class ThinkingTracker {
  private readonly starts = new Map<number, number>();
  private readonly durations = new Map<number, number>();
  /** Durations stamped on the last `message_end`, reused for the `turn_end` that repeats that message. */
  private lastStamped = new Map<number, number>();

  constructor(private readonly clock: () => number = Date.now) {}

  /** Returns the event to publish: the same object, or a stamped copy. */
  process(event: unknown): unknown {
    if (!isRecord(event)) return event;
    switch (event.type) {
      case "message_update":
        this.onUpdate(event.assistantMessageEvent);
        return event;
      case "message_end": {
        // Tool results end messages too, between the assistant's message_end and turn_end: only an
        // assistant message's end replaces the durations the turn_end will carry.
        if (!isRecord(event.message) || event.message.role !== "assistant") return event;
        const stamped = stampMessage(event, this.durations);
        this.lastStamped = new Map(this.durations);
        this.starts.clear();
        this.durations.clear();
        return stamped;
      }
      case "turn_end": {
        const source = this.durations.size > 0 ? this.durations : this.lastStamped;
        const stamped = stampMessage(event, source);
        this.reset();
        return stamped;
      }
      default:
        return event;
    }
  }

  reset(): void {
    this.starts.clear();
    this.durations.clear();
    this.lastStamped.clear();
  }

  private onUpdate(ame: unknown): void {
    if (!isRecord(ame)) return;
    const index = ame.contentIndex;
    if (typeof index !== "number" || !Number.isInteger(index) || index < 0) return;
    if (ame.type === "thinking_start") this.starts.set(index, this.clock());
    if (ame.type === "thinking_end") {
      const start = this.starts.get(index);
      if (start === undefined) return;
      this.durations.set(index, Math.ceil((this.clock() - start) / 1000));
      this.starts.delete(index);
    }
  }
}

function stampMessage(event: Record<string, unknown>, durations: Map<number, number>): Record<string, unknown> {
  if (durations.size === 0) return event;
  const message = event.message;
  if (!isRecord(message) || !Array.isArray(message.content)) return event;
  let changed = false;
  const content = message.content.map((block: unknown, i: number) => {
    const seconds = durations.get(i);
    if (seconds === undefined || !isRecord(block) || block.type !== "thinking" || "durationSeconds" in block) return block;
    changed = true;
    return { ...block, durationSeconds: seconds };
  });
  return changed ? { ...event, message: { ...message, content } } : event;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
