import { direct, type TypedSocket } from "../io/typed.js";

type CliSocket = TypedSocket<"/relay">;

/**
 * The cumulative `event_ack` of CLI connections, sent at most about once per `intervalMs` per connection
 * (`PIZZAPI_ACK_INTERVAL_MS`, docs/protocol.md "/relay"): the first ack after a quiet interval leaves at
 * once, the ones that follow within the interval are folded into one, sent with the highest mark by
 * then once the connection's interval is over. An ack is one more packet, and one more write system
 * call, per event: on a node's hot path it cost as much as the broadcast itself (docs/performance.md).
 * Acks are cumulative and say "stored", so a later, higher one says everything an earlier one did.
 *
 * One shared timer ticks every twentieth of the interval and sends only the acks that are due: each
 * connection keeps its own phase, so a thousand folded acks go out spread over the interval, not in one
 * burst of writes that would stall the event loop (measured: about 47 µs a write on the bench machine).
 *
 * It sends `socket.data.lastAckedSeq`, which only moves once an event is stored (server/sessions/publish.ts),
 * for the connection's current registration: a registration that starts over is `forget`-ed.
 *
 * Only Socket.IO CLIs are folded: every generation of them reads the ack as a cumulative mark. Legacy
 * CLIs get one ack per event, as the legacy relay sent them (docs/legacy-protocol.md section 2.4).
 */
export class AckCoalescer {
  private readonly sent = new WeakMap<CliSocket, { at: number; seq: number }>();
  private readonly pending = new Set<CliSocket>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** The connection's ack mark went up: send it now, or (`fold`) with the next flush. */
  advanced(socket: CliSocket, fold: boolean): void {
    const last = this.sent.get(socket);
    if (!fold || this.intervalMs <= 0 || !last || this.now() - last.at >= this.intervalMs) {
      this.pending.delete(socket);
      this.send(socket);
      return;
    }
    this.pending.add(socket);
    if (!this.timer) {
      this.timer = setInterval(() => this.sendDue(), Math.max(10, Math.floor(this.intervalMs / 20)));
      this.timer.unref();
    }
  }

  /** The tick: the pending acks whose connection's interval is over. */
  private sendDue(): void {
    const now = this.now();
    for (const socket of this.pending) {
      const last = this.sent.get(socket);
      if (last && now - last.at < this.intervalMs) continue;
      this.pending.delete(socket);
      this.send(socket);
    }
    if (this.pending.size === 0) this.stopTimer();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** A new registration on the connection: its acks start over (and nothing pending is sent). */
  forget(socket: CliSocket): void {
    this.sent.delete(socket);
    this.pending.delete(socket);
  }

  /** Sends every pending ack now (the node stops). */
  flush(): void {
    for (const socket of this.pending) this.send(socket);
    this.pending.clear();
    this.stopTimer();
  }

  private send(socket: CliSocket): void {
    const { sessionId, lastAckedSeq: seq } = socket.data;
    if (!sessionId || !socket.connected) return;
    const last = this.sent.get(socket);
    if (last && last.seq >= seq) return;
    this.sent.set(socket, { at: this.now(), seq });
    direct(socket).emit("event_ack", { sessionId, seq });
  }
}
