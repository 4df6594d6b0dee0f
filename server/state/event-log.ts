import type { LoggedEvent } from "./types.js";

/** A session's first chunk; each next one is twice the size of the one before, up to CHUNK_MAX. */
const CHUNK_MIN = 4 * 1024;
const CHUNK_MAX = 32 * 1024;

/**
 * A session's replay log in embedded mode: its last events, with their JSON kept as UTF-8 in byte
 * chunks off the V8 heap, and their seq, time and place in plain number arrays. Kept as a string and an
 * object per event, the logs of a busy node were hundreds of thousands of old-generation objects that
 * every major collection walked and moved (docs/performance.md "The event log"); here a session's whole
 * log is a handful of objects, whatever its length.
 *
 * Bytes are written once and never moved: an event goes at the end of the newest chunk, or starts a new
 * one (a chunk is at least as large as the event); dropping the oldest events only moves the start, and
 * a chunk none of the kept events is in any more is released. The last released chunk is kept as the
 * next one, so a full log that keeps turning over allocates nothing. An earlier version compacted one
 * growing buffer by moving its live bytes: at 4,000 events/s that memmove alone was 2 % of the node's
 * CPU. A log holds its JSON plus at most about three chunks (96 KiB).
 */
export class EventLog {
  /** Live chunks, oldest first; `chunks[i]` has the id `firstChunk + i`. */
  private readonly chunks: Buffer[] = [];
  private firstChunk = 0;
  /** Bytes written in the newest chunk. */
  private used = 0;
  private spare: Buffer | null = null;
  private readonly seqs: number[] = [];
  private readonly times: number[] = [];
  /** Each event's chunk id, its byte offset in that chunk and its byte length (-1: the event had no JSON). */
  private readonly chunkIds: number[] = [];
  private readonly starts: number[] = [];
  private readonly lengths: number[] = [];

  get length(): number {
    return this.seqs.length;
  }

  /** The seq of the oldest event kept, if any. */
  get firstSeq(): number | undefined {
    return this.seqs[0];
  }

  /** Bytes of off-heap memory the log holds (its chunks and the spare), for tests and figures. */
  get bytesHeld(): number {
    let total = this.spare?.length ?? 0;
    for (const chunk of this.chunks) total += chunk.length;
    return total;
  }

  /** Appends an event, then drops the oldest ones beyond `limit`. */
  push(seq: number, ts: number, eventJson: string | undefined, limit: number): void {
    const size = eventJson === undefined ? 0 : Buffer.byteLength(eventJson, "utf8");
    const newest = this.chunks[this.chunks.length - 1];
    if (size > 0 && (newest === undefined || this.used + size > newest.length)) this.startChunk(size, newest);
    const chunk = this.chunks[this.chunks.length - 1];
    if (eventJson !== undefined && chunk !== undefined) chunk.write(eventJson, this.used, "utf8");
    this.seqs.push(seq);
    this.times.push(ts);
    this.chunkIds.push(this.firstChunk + this.chunks.length - 1);
    this.starts.push(this.used);
    this.lengths.push(eventJson === undefined ? -1 : size);
    this.used += size;
    while (this.seqs.length > limit) this.dropOldest();
  }

  /** Copies of the events whose seq is above `afterSeq`, oldest first. */
  after(afterSeq: number): LoggedEvent[] {
    const out: LoggedEvent[] = [];
    for (let i = 0; i < this.seqs.length; i++) {
      const seq = this.seqs[i] as number;
      if (seq <= afterSeq) continue;
      const length = this.lengths[i] as number;
      const start = this.starts[i] as number;
      const chunk = this.chunks[(this.chunkIds[i] as number) - this.firstChunk];
      out.push({ seq, ts: this.times[i] as number, eventJson: length < 0 || chunk === undefined ? undefined : chunk.toString("utf8", start, start + length) });
    }
    return out;
  }

  private startChunk(size: number, newest: Buffer | undefined): void {
    const wanted = Math.max(size, newest === undefined ? CHUNK_MIN : Math.min(CHUNK_MAX, newest.length * 2));
    const spare = this.spare;
    this.spare = null;
    // allocUnsafeSlow: a chunk of its own, not a slice of Node's shared pool that would pin the pool.
    this.chunks.push(spare !== null && spare.length >= wanted ? spare : Buffer.allocUnsafeSlow(wanted));
    this.used = 0;
  }

  private dropOldest(): void {
    this.seqs.shift();
    this.times.shift();
    this.chunkIds.shift();
    this.starts.shift();
    this.lengths.shift();
    // Chunks older than the oldest kept event's hold nothing any more (with no event left, all but the newest).
    const oldest = this.chunkIds[0] ?? this.firstChunk + this.chunks.length - 1;
    while (this.firstChunk < oldest && this.chunks.length > 1) {
      const released = this.chunks.shift() as Buffer;
      this.firstChunk++;
      if (released.length <= CHUNK_MAX && (this.spare === null || released.length > this.spare.length)) this.spare = released;
    }
  }
}
