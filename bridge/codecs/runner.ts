import { defined, errorFrame, str, withoutType, type EndpointCodec, type Frame } from "./types.js";

const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : []);

function skills(value: unknown): Frame[] {
  if (!Array.isArray(value)) return [];
  return value
    .filter((s): s is Frame => typeof s === "object" && s !== null && typeof (s as Frame).name === "string")
    .map((s) => ({ name: s.name, description: str(s.description) ?? "", filePath: str(s.filePath) ?? "" }));
}

/** Terminal frames without a string terminalId are dropped (legacy: "logged and ignored"). */
const terminalFrame = (f: Frame): Frame | null => (typeof f.terminalId === "string" ? withoutType(f) : null);

/** Frames naming a session need a string sessionId; anything else was meaningless to the legacy relay. */
const sessionFrame = (f: Frame): Frame | null => (typeof f.sessionId === "string" ? withoutType(f) : null);

/** `/ws/runner` ⇄ `/runner` (docs/legacy-protocol.md section 4), both daemon generations. */
export const runnerCodec: EndpointCodec = {
  namespace: "/runner",
  firstFrameRequired: true,
  inbound: {
    register_runner: (f) =>
      defined({
        runnerId: str(f.runnerId),
        runnerSecret: str(f.runnerSecret),
        name: str(f.name) ?? null,
        roots: strings(f.roots),
        skills: skills(f.skills),
      }),
    session_ready: sessionFrame,
    session_error: sessionFrame,
    session_killed: sessionFrame,
    sessions_list: (f) => ({ ...withoutType(f), sessions: strings(f.sessions) }),
    skills_list: (f) => ({ ...withoutType(f), skills: skills(f.skills) }),
    skill_result: (f) => ({ ...withoutType(f), ok: f.ok === true, ...(Array.isArray(f.skills) ? { skills: skills(f.skills) } : {}) }),
    runner_session_event: sessionFrame,
    pong: (f) => withoutType(f),
    terminals_list: (f) => ({ ...withoutType(f), terminals: strings(f.terminals) }),
    terminal_ready: terminalFrame,
    terminal_data: terminalFrame,
    terminal_exit: terminalFrame,
    terminal_error: terminalFrame,
  },
  outbound: { error: errorFrame },
  closeAfter: (event, payload) =>
    event === "error" && typeof payload.message === "string" && payload.message.startsWith("Runner authentication failed")
      ? { code: 1008, reason: payload.message }
      : undefined,
};
