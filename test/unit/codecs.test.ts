import { describe, expect, it } from "vitest";
import { cliCodec } from "../../bridge/codecs/cli.js";
import { hubCodec } from "../../bridge/codecs/hub.js";
import { runnerCodec } from "../../bridge/codecs/runner.js";
import { terminalCodec } from "../../bridge/codecs/terminal.js";
import { asFrame, ownEntry, type EndpointCodec, type Frame } from "../../bridge/codecs/types.js";
import { viewerCodec, ViewerJoinSequencer } from "../../bridge/codecs/viewer.js";
import { relayClientSchemas, runnerClientSchemas, terminalClientSchemas, validate, viewerClientSchemas } from "../../protocol/index.js";

const inbound = (codec: EndpointCodec, frame: Frame): Frame | null | "ignored" => {
  const translate = ownEntry(codec.inbound, String(frame.type));
  return translate ? translate(frame) : "ignored";
};
const outbound = (codec: EndpointCodec, event: string, payload: Frame): Frame[] => (ownEntry(codec.outbound, event) ?? ((p: Frame) => [asFrame(event, p)]))(payload);

/** Legacy frame → typed payload: the legacy relay's coercions, and the frames it ignored. */
describe("codecs: legacy frames in", () => {
  it.each<[string, EndpointCodec, Frame, Frame | null | "ignored"]>([
    ["12.1 register", cliCodec, { type: "register", sessionId: "de6e", cwd: "/home/alice/proj", collabMode: true, sessionName: null }, { sessionId: "de6e", cwd: "/home/alice/proj", collabMode: true, sessionName: null }],
    ["register: non-string cwd becomes ''", cliCodec, { type: "register", cwd: 5 }, { cwd: "", sessionName: null }],
    ["register: non-boolean flags are dropped", cliCodec, { type: "register", ephemeral: "no", collabMode: 1 }, { cwd: "", sessionName: null }],
    ["register: non-string name becomes null", cliCodec, { type: "register", sessionName: 7 }, { cwd: "", sessionName: null }],
    ["event keeps the opaque event and a numeric seq", cliCodec, { type: "event", sessionId: "s", token: "t", event: { type: "agent_start" }, seq: 5 }, { sessionId: "s", token: "t", event: { type: "agent_start" }, seq: 5 }],
    ["event without token carries an empty one (Invalid token)", cliCodec, { type: "event", event: {}, seq: 1 }, { token: "", event: {}, seq: 1 }],
    ["event: a non-numeric seq is not acknowledged", cliCodec, { type: "event", token: "t", seq: "3" }, { token: "t" }],
    ["session_end", cliCodec, { type: "session_end", sessionId: "s", token: "t" }, { sessionId: "s", token: "t" }],
    ["exec_result is verbatim", cliCodec, { type: "exec_result", id: "e1", ok: true, command: "x", result: { a: 1 } }, { id: "e1", ok: true, command: "x", result: { a: 1 } }],
    ["the CLI's unknown types are ignored", cliCodec, { type: "no_such_type" }, "ignored"],
    ["a type naming an inherited member is unknown", cliCodec, { type: "__proto__" }, "ignored"],
    ["valueOf is unknown too", viewerCodec, { type: "valueOf" }, "ignored"],
    ["hasOwnProperty is unknown too", runnerCodec, { type: "hasOwnProperty" }, "ignored"],
    ["viewer input verbatim (normalised by the namespace)", viewerCodec, { type: "input", text: "hi", attachments: [7], client: "web" }, { text: "hi", attachments: [7], client: "web" }],
    ["viewer input without text is ignored", viewerCodec, { type: "input", attachments: [] }, null],
    ["model_set without strings is ignored", viewerCodec, { type: "model_set", provider: "openai" }, null],
    ["exec without id is ignored", viewerCodec, { type: "exec", command: "abort" }, null],
    ["exec keeps command arguments", viewerCodec, { type: "exec", id: "e1", command: "set_thinking_level", level: "high" }, { id: "e1", command: "set_thinking_level", level: "high" }],
    ["viewer `command` frames are dropped", viewerCodec, { type: "command", text: "x" }, "ignored"],
    ["register_runner (12.2)", runnerCodec, { type: "register_runner", runnerId: "r", runnerSecret: "s", name: "box", roots: ["/a", 3], skills: [{ name: "n", description: "d", filePath: "/f" }, { x: 1 }] }, { runnerId: "r", runnerSecret: "s", name: "box", roots: ["/a"], skills: [{ name: "n", description: "d", filePath: "/f" }] }],
    ["register_runner of the older generation", runnerCodec, { type: "register_runner" }, { name: null, roots: [], skills: [] }],
    ["a terminal frame without terminalId is dropped", runnerCodec, { type: "terminal_data", data: "eA==" }, null],
    ["terminal data stays opaque", runnerCodec, { type: "terminal_data", terminalId: "t", data: "YWxpY2U=", runnerId: "r" }, { terminalId: "t", data: "YWxpY2U=", runnerId: "r" }],
    ["skill_result: ok is true only for true", runnerCodec, { type: "skill_result", requestId: "q", ok: "yes" }, { requestId: "q", ok: false }],
    ["terminal resize with bad sizes falls back (0)", terminalCodec, { type: "terminal_resize", cols: "wide" }, { cols: 0, rows: 0 }],
    ["terminal input keeps extra keys", terminalCodec, { type: "terminal_input", data: "bHMN", x: 1 }, { data: "bHMN", x: 1 }],
    ["the hub takes no frames", hubCodec, { type: "anything" }, "ignored"],
  ])("%s", (_name, codec, frame, expected) => {
    expect(inbound(codec, frame)).toEqual(expected);
  });

  it("every translated frame passes its namespace's schema", () => {
    const cases: Array<[Record<string, import("zod").ZodType>, EndpointCodec, Frame]> = [
      [relayClientSchemas, cliCodec, { type: "register", sessionId: 3, cwd: null, collabMode: "x", sessionName: {} }],
      [relayClientSchemas, cliCodec, { type: "event", token: 5, seq: "x", event: [1] }],
      [relayClientSchemas, cliCodec, { type: "session_end", token: null }],
      [viewerClientSchemas, viewerCodec, { type: "resync", junk: 1 }],
      [runnerClientSchemas, runnerCodec, { type: "register_runner", runnerId: 1, roots: "x", skills: "y", name: 2 }],
      [runnerClientSchemas, runnerCodec, { type: "sessions_list", sessions: [1, "a"] }],
      [terminalClientSchemas, terminalCodec, { type: "terminal_resize", cols: null, rows: undefined }],
    ];
    for (const [schemas, codec, frame] of cases) {
      const payload = inbound(codec, frame);
      if (payload === null || payload === "ignored") throw new Error(`unexpected ${String(payload)}`);
      const schema = schemas[String(frame.type)];
      if (!schema) throw new Error(`no schema for ${String(frame.type)}`);
      expect(validate(schema, payload).ok).toBe(true);
    }
  });
});

/** Typed event → legacy frames, and the close that follows a disconnect. */
describe("codecs: typed events out", () => {
  it("frames are the payload plus the event name as type (12.1 registered, event_ack)", () => {
    expect(outbound(cliCodec, "registered", { sessionId: "s", token: "t", shareUrl: "u", isEphemeral: true, collabMode: true })).toEqual([
      { type: "registered", sessionId: "s", token: "t", shareUrl: "u", isEphemeral: true, collabMode: true },
    ]);
    expect(outbound(cliCodec, "event_ack", { sessionId: "s", seq: 3 })).toEqual([{ type: "event_ack", sessionId: "s", seq: 3 }]);
    expect(outbound(viewerCodec, "event", { event: { type: "agent_start" }, seq: 5 })).toEqual([{ type: "event", event: { type: "agent_start" }, seq: 5 }]);
    expect(outbound(runnerCodec, "new_session", { sessionId: "s", cwd: "/a" })).toEqual([{ type: "new_session", sessionId: "s", cwd: "/a" }]);
  });

  it("a folded event_ack with its marks becomes one frame per event, in order, in the legacy field order", () => {
    const frames = outbound(cliCodec, "event_ack", { sessionId: "s", seq: 7, seqs: [4, 5, 7] });
    expect(frames).toEqual([
      { type: "event_ack", sessionId: "s", seq: 4 },
      { type: "event_ack", sessionId: "s", seq: 5 },
      { type: "event_ack", sessionId: "s", seq: 7 },
    ]);
    expect(frames.map((f) => JSON.stringify(f))).toContain('{"type":"event_ack","sessionId":"s","seq":5}');
  });

  it("typed errors become legacy error frames (message only)", () => {
    for (const codec of [cliCodec, viewerCodec, runnerCodec, terminalCodec, hubCodec]) {
      expect(outbound(codec, "error", { code: "invalid_token", message: "Invalid token" })).toEqual([{ type: "error", message: "Invalid token" }]);
    }
  });

  it.each<[string, EndpointCodec, string, Frame, { code: number; reason: string } | undefined]>([
    ["session_expired → 1001", cliCodec, "session_expired", { sessionId: "s" }, { code: 1001, reason: "Session expired" }],
    ["disconnected → 1000 with the reason", viewerCodec, "disconnected", { reason: "Session ended" }, { code: 1000, reason: "Session ended" }],
    ["snapshot replay → 1000 'Snapshot replay complete'", viewerCodec, "disconnected", { reason: "Session is no longer live (snapshot replay)." }, { code: 1000, reason: "Snapshot replay complete" }],
    ["session not found → 1008", viewerCodec, "error", { code: "not_found", message: "Session not found" }, { code: 1008, reason: "Session not found" }],
    ["snapshot failure → 1011", viewerCodec, "error", { code: "unavailable", message: "x" }, { code: 1011, reason: "Failed to load session snapshot" }],
    ["terminal refusal → 1008", terminalCodec, "terminal_error", { terminalId: "t", message: "Forbidden" }, { code: 1008, reason: "Forbidden" }],
    ["a runner's terminal error does not close", terminalCodec, "terminal_error", { terminalId: "t", message: "cwd outside allowed roots: /x" }, undefined],
    ["secret mismatch → 1008", runnerCodec, "error", { code: "forbidden", message: "Runner authentication failed: secret mismatch for runner r" }, { code: 1008, reason: "Runner authentication failed: secret mismatch for runner r" }],
    ["an ordinary event does not close", cliCodec, "input", { text: "x", attachments: [] }, undefined],
  ])("%s", (_name, codec, event, payload, expected) => {
    expect(codec.closeAfter?.(event, payload)).toEqual(expected);
  });
});

describe("ViewerJoinSequencer: gaps filled from the log", () => {
  const live = (seq: number): Frame => ({ event: { n: seq }, seq });
  const seqsOf = (out: Array<[string, Frame]>): number[] => out.map(([, f]) => f.seq as number);

  function joined(): { seq: ViewerJoinSequencer; fills: number[] } {
    const fills: number[] = [];
    const seq = new ViewerJoinSequencer({ requestFill: (afterSeq) => fills.push(afterSeq) });
    seq.accept("connected", { sessionId: "s", lastSeq: 2 });
    seq.accept("synced", { sessionId: "s", lastSeq: 2 });
    return { seq, fills };
  }

  it("passes contiguous live events at once", () => {
    const { seq, fills } = joined();
    expect(seqsOf([...seq.accept("event", live(3)), ...seq.accept("event", live(4))])).toEqual([3, 4]);
    expect(fills).toEqual([]);
  });

  it("holds what follows a gap, asks for the missing events, and sends them all in order", () => {
    const { seq, fills } = joined();
    expect(seq.accept("event", live(5))).toEqual([]);
    expect(fills).toEqual([2]);
    expect(seq.accept("event", live(6))).toEqual([]); // waits behind the fill
    expect(seq.accept("event", live(4))).toEqual([]); // arrives late: also waits
    expect(seqsOf(seq.filled([live(3), live(4), live(5)]))).toEqual([3, 4, 5, 6]);
    expect(seqsOf(seq.accept("event", live(7)))).toEqual([7]);
    expect(fills).toEqual([2]);
  });

  it("lets the gap through when the log cannot fill it (the legacy UI then resyncs), without asking again", () => {
    const { seq, fills } = joined();
    seq.accept("event", live(9));
    seq.accept("event", live(10));
    expect(seqsOf(seq.filled(null))).toEqual([9, 10]);
    expect(seqsOf(seq.accept("event", live(11)))).toEqual([11]);
    expect(fills).toEqual([2]);
  });

  it("asks again for a later gap", () => {
    const { seq, fills } = joined();
    seq.accept("event", live(4));
    seq.filled([live(3)]);
    expect(seq.accept("event", live(8))).toEqual([]);
    expect(fills).toEqual([2, 4]);
  });

  it("does not treat the join's held events as gaps against an unknown start", () => {
    const fills: number[] = [];
    const seq = new ViewerJoinSequencer({ requestFill: (afterSeq) => fills.push(afterSeq) });
    expect(seq.accept("event", live(3))).toEqual([]); // before connected: held
    seq.accept("connected", { sessionId: "s", lastSeq: 2 });
    expect(seqsOf(seq.accept("synced", { sessionId: "s", lastSeq: 2 }))).toEqual([3]);
    expect(fills).toEqual([]);
  });
});
