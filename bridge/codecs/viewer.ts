import { errorFrame, str, withoutType, type EndpointCodec, type Frame, type OutboundSequencer, type SequencerIo } from "./types.js";

const SNAPSHOT_REPLAY = "Session is no longer live (snapshot replay).";

/**
 * `/ws/sessions/:id` ⇄ `/viewer` (docs/legacy-protocol.md section 3). Frames the legacy relay ignored
 * (input without a string text, model_set or exec without their strings) are ignored here too, before
 * they reach the namespace.
 */
export const viewerCodec: EndpointCodec = {
  namespace: "/viewer",
  inbound: {
    resync: () => ({}),
    connected: () => ({}),
    input: (f) => (typeof f.text === "string" ? withoutType(f) : null),
    model_set: (f) => (str(f.provider) !== undefined && str(f.modelId) !== undefined ? { provider: f.provider, modelId: f.modelId } : null),
    exec: (f) => (str(f.id) !== undefined && str(f.command) !== undefined ? withoutType(f) : null),
  },
  outbound: {
    error: errorFrame,
    // `publishedAt` is the relay's own timing (docs/protocol.md): legacy event frames never had it.
    event: (payload) => {
      const { publishedAt: _publishedAt, ...frame } = payload;
      return [{ type: "event", ...frame }];
    },
  },
  closeAfter: (event, payload: Frame) => {
    if (event === "disconnected") {
      const reason = str(payload.reason) ?? "Session ended";
      return { code: 1000, reason: reason === SNAPSHOT_REPLAY ? "Snapshot replay complete" : reason };
    }
    if (event === "error") {
      if (payload.code === "not_found") return { code: 1008, reason: "Session not found" };
      if (payload.code === "unavailable") return { code: 1011, reason: "Failed to load session snapshot" };
    }
    return undefined;
  },
  sequencer: (io) => new ViewerJoinSequencer(io),
};

/**
 * The legacy join sequence, exactly: `connected {lastSeq}`, the snapshot frames at lastSeq, then each
 * later seq once, in order. The relay joins the viewer to the room before reading the state, so live
 * events may arrive before `connected`, between the snapshot frames, or twice (live and covered by the
 * snapshot). Native clients drop `seq <= highest seen` themselves; the legacy UI re-applies anything
 * not above its lastSeq, so the bridge holds live events until `synced` (the end of the join), drops
 * every live event at or below the highest seq already passed on, and swallows `synced`.
 *
 * A gap (a live event above the next seq: an event was stored but its broadcast was lost, when a node
 * died or lost Redis right after storing) is filled from the session's log before anything after it
 * goes out, as the Socket.IO viewer client does (docs/legacy-protocol.md section 14): the legacy UI's
 * own remedy would be a snapshot, without the events. When the log no longer has them, the held
 * events go out with the gap, and the UI resyncs as it always did.
 */
export class ViewerJoinSequencer implements OutboundSequencer {
  private live = false;
  private high = Number.NEGATIVE_INFINITY;
  private readonly held: Frame[] = [];
  /** A fill is on its way: live events wait behind it. */
  private filling = false;
  private readonly behindFill: Frame[] = [];

  constructor(private readonly io: SequencerIo = { requestFill: () => undefined }) {}

  accept(event: string, payload: Frame): Array<[string, Frame]> {
    if (event === "connected") {
      // Also mid-stream: a new incarnation of the session restarts the position (the UI resets to it).
      if (typeof payload.lastSeq === "number") this.high = payload.lastSeq;
      else this.live = true; // replay of an ended session: no live events, no `synced`
      this.filling = false;
      this.behindFill.length = 0;
      return [[event, payload]];
    }
    if (event === "synced") {
      this.live = true;
      return this.held.splice(0).flatMap((frame) => this.pass(frame));
    }
    if (event !== "event") return [[event, payload]];
    if (payload.snapshot === true) {
      const { snapshot: _snapshot, ...frame } = payload;
      return [["event", frame]];
    }
    if (typeof payload.seq !== "number") return [["event", payload]];
    if (!this.live) {
      this.held.push(payload);
      return [];
    }
    return this.pass(payload);
  }

  filled(events: Frame[] | null): Array<[string, Frame]> {
    this.filling = false;
    const out: Array<[string, Frame]> = [];
    for (const frame of events ?? []) out.push(...this.emit(frame));
    // What waited goes out now, a gap the log could not fill included (no second fill for it).
    for (const frame of this.behindFill.splice(0)) out.push(...this.emit(frame));
    return out;
  }

  private pass(frame: Frame): Array<[string, Frame]> {
    const seq = frame.seq as number;
    if (seq <= this.high) return [];
    if (this.filling) {
      this.behindFill.push(frame);
      return [];
    }
    if (Number.isFinite(this.high) && seq > this.high + 1) {
      this.filling = true;
      this.behindFill.push(frame);
      this.io.requestFill(this.high);
      return [];
    }
    return this.emit(frame);
  }

  private emit(frame: Frame): Array<[string, Frame]> {
    const seq = frame.seq;
    if (typeof seq !== "number" || seq <= this.high) return [];
    this.high = seq;
    return [["event", frame]];
  }
}
