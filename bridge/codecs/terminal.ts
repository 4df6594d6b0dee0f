import { errorFrame, num, str, withoutType, type EndpointCodec } from "./types.js";

const REFUSALS = new Set(["Terminal not found", "Forbidden", "Failed to attach terminal"]);

/** `/ws/terminal/:id` ⇄ `/terminal` (docs/legacy-protocol.md section 5). `data` passes through untouched. */
export const terminalCodec: EndpointCodec = {
  namespace: "/terminal",
  inbound: {
    // Non-numeric sizes fall back to the terminal's REST size, as in the legacy relay (0 = "not given").
    terminal_resize: (f) => ({ cols: num(f.cols) ?? 0, rows: num(f.rows) ?? 0 }),
    terminal_input: (f) => (str(f.data) !== undefined ? withoutType(f) : null),
    kill_terminal: () => ({}),
  },
  outbound: { error: errorFrame },
  closeAfter: (event, payload) =>
    event === "terminal_error" && typeof payload.message === "string" && REFUSALS.has(payload.message)
      ? { code: 1008, reason: payload.message }
      : undefined,
};
