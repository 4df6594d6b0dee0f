import type { LoggedEvent } from "./types.js";

/**
 * A session's replay log in embedded mode: its last events, with their JSON kept as UTF-8 in one byte
 * buffer per session, off the V8 heap, and their seq, time and place in plain number arrays. Kept as a
 * string and an object per event, the logs of a busy node were hundreds of thousands of old-generation
 * objects that every major collection walked and moved (docs/performance.md "The event log"); here a
 * session's whole log is a handful of objects, whatever its length.
 *
 * The buffer is append-only between compactions: dropping the oldest event only moves `head`; an append
 * that does not fit at the end first moves the live bytes to the start (one memmove), or, when they
 * would fill more than four fifths of it, grows the buffer to 1.25 times what it must hold. A full log
 * thus takes about 1.25 times its JSON in bytes, and a compaction copies the live bytes once every
 * fifth of a buffer appended.
 */
export class EventLog {
  private bytes: Buffer = Buffer.alloc(0);
  /** Byte offset of the oldest live event, and the end of the newest. */
  private head = 0;
  private tail = 0;
  private readonly seqs: number[] = [];
  private readonly times: number[] = [];
  private readonly starts: number[] = [];
  /** Byte length of each event's JSON; -1: the event had none. */
  private readonly lengths: number[] = [];

  get length(): number {
    return this.seqs.length;
  }

  /** The seq of the oldest event kept, if any. */
  get firstSeq(): number | undefined {
    return this.seqs[0];
  }

  /** Appends an event, then drops the oldest ones beyond `limit`. */
  push(seq: number, ts: number, eventJson: string | undefined, limit: number): void {
    const size = eventJson === undefined ? 0 : Buffer.byteLength(eventJson, "utf8");
    if (this.tail + size > this.bytes.length) this.makeRoom(size);
    if (eventJson !== undefined) this.bytes.write(eventJson, this.tail, "utf8");
    this.seqs.push(seq);
    this.times.push(ts);
    this.starts.push(this.tail);
    this.lengths.push(eventJson === undefined ? -1 : size);
    this.tail += size;
    while (this.seqs.length > limit) this.dropOldest();
  }

  /** Copies of the events whose seq is above `afterSeq`, oldest first. */
  after(afterSeq: number): LoggedEvent[] {
    const out: LoggedEvent[] = [];
    for (let i = 0; i < this.seqs.length; i++) {
      const seq = this.seqs[i] as number;
      if (seq <= afterSeq) continue;
      const start = this.starts[i] as number;
      const length = this.lengths[i] as number;
      out.push({ seq, ts: this.times[i] as number, eventJson: length < 0 ? undefined : this.bytes.toString("utf8", start, start + length) });
    }
    return out;
  }

  private dropOldest(): void {
    this.seqs.shift();
    this.times.shift();
    this.starts.shift();
    this.lengths.shift();
    // The next event's start, or the end when none is left (empty events take no bytes).
    this.head = this.starts[0] ?? this.tail;
  }

  /** Room for `size` more bytes at the end: compact in place while that leaves a fifth free, else grow. */
  private makeRoom(size: number): void {
    const live = this.tail - this.head;
    const needed = live + size;
    const target = needed * 5 <= this.bytes.length * 4 ? this.bytes : Buffer.allocUnsafe(Math.max(Math.ceil(needed * 1.25), 4096));
    this.bytes.copy(target, 0, this.head, this.tail);
    this.bytes = target;
    for (let i = 0; i < this.starts.length; i++) this.starts[i] = (this.starts[i] as number) - this.head;
    this.head = 0;
    this.tail = live;
  }
}
