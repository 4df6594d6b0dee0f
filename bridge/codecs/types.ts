import type { NamespaceName } from "../../protocol/index.js";

export type Frame = Record<string, unknown>;

export interface CloseSpec {
  code: number;
  reason: string;
}

/**
 * One legacy endpoint's translation, as data: which namespace it speaks to, how each legacy frame type
 * becomes a typed payload (coerced as the legacy relay coerced it, or null to ignore it as the legacy
 * relay did), how a typed event becomes legacy frames, and which close code follows which event.
 * Codecs are pure: no I/O, no state beyond what a single call is given.
 */
export interface EndpointCodec {
  namespace: NamespaceName;
  /** Legacy `type` → typed payload. Types absent from the table are ignored (legacy: silently). */
  inbound: Readonly<Record<string, (frame: Frame) => Frame | null>>;
  /** Typed server event → legacy frames (default: `{type: event, ...payload}`). */
  outbound: Readonly<Record<string, (payload: Frame) => Frame[]>>;
  /** The close a legacy socket gets when the server disconnects it right after this event. */
  closeAfter?: (event: string, payload: Frame) => CloseSpec | undefined;
  /**
   * Per-connection ordering of server events, for endpoints whose legacy clients cannot reorder or
   * de-duplicate themselves (the viewer join), and fill gaps from the log. A factory: the state lives
   * in the connection's instance; `io` is how it asks the namespace for missing events.
   */
  sequencer?: (io: SequencerIo) => OutboundSequencer;
  /** The endpoint's client must send a frame soon after connecting (`register`, `register_runner`). */
  firstFrameRequired?: boolean;
}

/** Decides, event by event, what goes out now: possibly nothing (held or dropped), possibly several. */
export interface OutboundSequencer {
  accept(event: string, payload: Frame): Array<[string, Frame]>;
  /** The answer to `requestFill`: the missing events in order, or null when there are none to be had. */
  filled(events: Frame[] | null): Array<[string, Frame]>;
}

/** What a sequencer may ask of its connection. */
export interface SequencerIo {
  /** Asks the namespace for the stored events after `afterSeq`; the answer comes to `filled`. */
  requestFill(afterSeq: number): void;
}

/**
 * A codec table's entry for a name the client chose: only the table's own entries, never an inherited
 * member (`__proto__`, `valueOf`, `hasOwnProperty`...), which a plain-object lookup would return and the
 * caller would then call (docs/protocol.md, "Limits and hostile input").
 */
export function ownEntry<T>(table: Readonly<Record<string, T>>, name: string): T | undefined {
  return Object.hasOwn(table, name) ? table[name] : undefined;
}

/** Legacy frame of a typed event: the payload with the event name as `type`. */
export function asFrame(event: string, payload: Frame): Frame {
  return { type: event, ...payload };
}

/** Typed `error {code, message}` → legacy `{type:"error", message}`. */
export function errorFrame(payload: Frame): Frame[] {
  return [{ type: "error", message: typeof payload.message === "string" ? payload.message : "Error" }];
}

export const str = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);
export const num = (value: unknown): number | undefined => (typeof value === "number" && Number.isFinite(value) ? value : undefined);
export const bool = (value: unknown): boolean | undefined => (typeof value === "boolean" ? value : undefined);

/** Drops undefined values, so coerced payloads carry only what the legacy frame really had. */
export function defined(frame: Frame): Frame {
  // A loop, not fromEntries(entries().filter()): it runs on every legacy event frame (docs/performance.md).
  const out: Frame = {};
  for (const key in frame) {
    if (!Object.hasOwn(frame, key)) continue;
    const value = frame[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/** The frame without `type`: the typed payload of a frame forwarded verbatim. */
export function withoutType(frame: Frame): Frame {
  const { type: _type, ...rest } = frame;
  return rest;
}
