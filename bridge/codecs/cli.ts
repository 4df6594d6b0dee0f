import { asFrame, defined, errorFrame, num, str, bool, withoutType, type EndpointCodec, type Frame } from "./types.js";

/**
 * `/ws/sessions` ⇄ `/relay` (docs/legacy-protocol.md section 2). Frames are sent without acks, so replies
 * come back as events: `registered`, `event_ack`, `error`. A legacy `event`/`session_end` without a
 * string token carries an empty one: the relay then answers `Invalid token`, as the legacy relay did
 * (a native client may omit the token; a legacy one may not).
 */
export const cliCodec: EndpointCodec = {
  namespace: "/relay",
  firstFrameRequired: true,
  inbound: {
    register: (f) =>
      defined({
        sessionId: str(f.sessionId),
        cwd: str(f.cwd) ?? "",
        ephemeral: bool(f.ephemeral),
        collabMode: bool(f.collabMode),
        sessionName: str(f.sessionName) ?? null,
      }),
    event: (f) => defined({ sessionId: str(f.sessionId), token: str(f.token) ?? "", event: f.event, seq: num(f.seq) }),
    session_end: (f) => defined({ sessionId: str(f.sessionId), token: str(f.token) ?? "" }),
    exec_result: (f) => withoutType(f),
  },
  outbound: {
    error: errorFrame,
    event_ack: ackFrames,
  },
  closeAfter: (event) => (event === "session_expired" ? { code: 1001, reason: "Session expired" } : undefined),
};

/**
 * One `event_ack` frame per event, as the legacy relay sent them (docs/legacy-protocol.md section 2.4):
 * the relay folds a legacy CLI's acks into one packet that lists every mark (`seqs`), in order.
 */
function ackFrames(payload: Frame): Frame[] {
  const { seqs, ...ack } = payload;
  const marks: unknown[] = Array.isArray(seqs) ? seqs : [ack.seq];
  return marks.map((seq) => asFrame("event_ack", { ...ack, seq }));
}
