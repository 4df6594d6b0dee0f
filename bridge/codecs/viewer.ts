import { errorFrame, str, withoutType, type EndpointCodec, type Frame } from "./types.js";

const SNAPSHOT_REPLAY = "Session is no longer live (snapshot replay).";

/**
 * `/ws/sessions/:id` ⇄ `/viewer` (legacy-protocol.md section 3). Frames the legacy relay ignored
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
  holdUntil: { event: "connected", held: ["event", "exec_result"] },
};
