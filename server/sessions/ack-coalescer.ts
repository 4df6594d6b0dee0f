import { direct, type TypedSocket } from "../io/typed.js";
import { TickBuckets } from "./tick-buckets.js";

type CliSocket = TypedSocket<"/relay">;

/**
 * The cumulative `event_ack` of CLI connections, sent at most about once per `intervalMs` per connection
 * (`PIZZAPI_ACK_INTERVAL_MS`, docs/protocol.md "/relay"): the first ack after a quiet interval leaves at
 * once, the ones that follow within the interval are folded into one, sent with the highest mark by
 * then once the connection's interval is over. An ack is one more packet, and one more write system
 * call, per event: on a node's hot path it cost as much as the broadcast itself (docs/performance.md).
 * Acks are cumulative and say "stored", so a later, higher one says everything an earlier one did.
 *
 * One shared timer ticks every hundredth of the interval (`TICKS_PER_INTERVAL`) and sends only the acks
 * that fell due since the last tick: each connection keeps its own phase, so a thousand folded acks go
 * out spread over the interval, not in bursts of writes that stall the event loop (measured: about 47 µs
 * a write on the bench machine; a tick every twentieth of the interval ran up to 14 ms on a legacy node
 * at 6,000 events/s, docs/performance.md "Acknowledgements").
 *
 * It sends `socket.data.lastAckedSeq`, which only moves once an event is stored (server/sessions/publish.ts),
 * for the connection's current registration: a registration that starts over is `forget`-ed.
 *
 * Clients that expect one ack per event (legacy CLIs: docs/legacy-protocol.md section 2.4) keep the same
 * timing, but the folded ack carries every mark it stands for (`seqs`), from which the bridge writes one
 * frame per event; and since their frames must stay in order, any other packet the server sends such a
 * connection sends its waiting ack first. One packet per batch instead of one per event: the emit, the
 * encoding and the engine's write of a packet were 5 % of a legacy node's time (docs/performance.md
 * "Acknowledgements").
 */
export class AckCoalescer {
  private readonly sent = new WeakMap<CliSocket, { at: number; seq: number }>();
  /** The marks not yet sent of connections acknowledged per event, in order (kept for the socket's life). */
  private readonly marks = new WeakMap<CliSocket, number[]>();
  /**
   * The connections with an ack waiting, each with the moment its interval is over: the one entry of
   * `due` that stands for it (an older entry, left by an ack sent before its time, is stale).
   */
  private readonly pending = new Map<CliSocket, number>();
  /** Each pending connection, by the tick its interval is over on. */
  private readonly due: TickBuckets<Scheduled>;
  private readonly tickMs: number;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tickMs = Math.max(MIN_TICK_MS, Math.floor(intervalMs / TICKS_PER_INTERVAL));
    this.due = new TickBuckets(this.tickMs);
  }

  /**
   * The connection's ack mark went up: send it now, or with the next flush. `perEvent`: its client
   * expects an ack per event, so this mark is kept with the batch's others.
   */
  advanced(socket: CliSocket, perEvent: boolean): void {
    const marks = perEvent ? this.marksOf(socket) : undefined;
    marks?.push(socket.data.lastAckedSeq);
    const last = this.sent.get(socket);
    if (this.intervalMs <= 0 || !last || this.now() - last.at >= this.intervalMs || (marks !== undefined && marks.length >= MAX_MARKS_PER_ACK)) {
      this.pending.delete(socket);
      this.send(socket);
      return;
    }
    if (!this.pending.has(socket)) this.schedule(socket, last.at + this.intervalMs);
    if (!this.timer) {
      this.timer = setInterval(() => this.sendDue(), this.tickMs);
      this.timer.unref();
    }
  }

  private schedule(socket: CliSocket, dueAt: number): void {
    this.pending.set(socket, dueAt);
    this.due.add({ socket, dueAt }, dueAt);
  }

  /** The tick: the pending acks whose connection's interval is over. */
  private sendDue(): void {
    const now = this.now();
    const due = this.due.takeDue(now);
    let done = 0;
    try {
      for (; done < due.length; done++) {
        const { socket, dueAt } = due[done] as Scheduled;
        // Not pending any more, or pending again since with an entry of its own.
        if (this.pending.get(socket) !== dueAt) continue;
        const last = this.sent.get(socket);
        // A hair early (the clock's rounding): due again at its exact time.
        if (last && now - last.at < this.intervalMs) {
          this.schedule(socket, last.at + this.intervalMs);
          continue;
        }
        this.pending.delete(socket);
        this.send(socket);
      }
    } finally {
      // Should a send throw, the connections not reached yet keep their entries: none is left pending
      // with nothing scheduled to send its ack.
      for (let i = done + 1; i < due.length; i++) {
        const rest = due[i] as Scheduled;
        this.due.add(rest, rest.dueAt);
      }
    }
    if (this.pending.size === 0) this.stopTimer();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    // Nothing is pending: whatever is still scheduled is stale.
    this.due.clear();
  }

  /**
   * A new registration on the connection (or its end): its acks start over. A connection acknowledged
   * per event first gets what is waiting, as the acks of the registration they belong to; call this
   * before the socket's data changes. For the others, nothing pending is sent.
   */
  forget(socket: CliSocket): void {
    const marks = this.marks.get(socket);
    if (marks && this.pending.has(socket)) this.send(socket);
    if (marks) marks.length = 0;
    this.sent.delete(socket);
    this.pending.delete(socket);
  }

  /** Entries in the timer's schedule, stale ones included (at most a few per pending connection). */
  get scheduled(): number {
    return this.due.size;
  }

  /** Sends every pending ack now (the node stops). */
  flush(): void {
    for (const socket of this.pending.keys()) this.send(socket);
    this.pending.clear();
    this.stopTimer();
  }

  /** The connection's batch of marks; the first call also keeps its frames in order (see the class). */
  private marksOf(socket: CliSocket): number[] {
    let marks = this.marks.get(socket);
    if (marks) return marks;
    marks = [];
    this.marks.set(socket, marks);
    // Called before the packet is written, for an emit and for each recipient of a broadcast alike.
    socket.onAnyOutgoing((event: string) => {
      if (event === "event_ack" || !this.pending.has(socket)) return;
      this.pending.delete(socket);
      this.send(socket);
    });
    return marks;
  }

  private send(socket: CliSocket): void {
    const { sessionId, lastAckedSeq: seq } = socket.data;
    const marks = this.marks.get(socket);
    const seqs = marks && marks.length > 0 ? marks.splice(0) : undefined;
    if (!sessionId || !socket.connected) return;
    const last = this.sent.get(socket);
    if (last && last.seq >= seq) return;
    this.sent.set(socket, { at: this.now(), seq });
    direct(socket).emit("event_ack", seqs ? { sessionId, seq, seqs } : { sessionId, seq });
  }
}

/**
 * At most this many marks in one folded ack: a client that sends thousands of events within an interval
 * gets its acks in several packets rather than in one that grows without bound.
 */
const MAX_MARKS_PER_ACK = 512;

/** A connection's entry in the timer's schedule: the moment its interval is over. */
interface Scheduled {
  socket: CliSocket;
  dueAt: number;
}

/** Ticks of the shared timer per interval: finer ticks, smaller bursts of writes. */
const TICKS_PER_INTERVAL = 100;
/** The shortest tick, whatever the interval. */
const MIN_TICK_MS = 5;
