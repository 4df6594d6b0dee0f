import { z } from "zod";
import type { ClientEventMap, NoInterServerEvents } from "../define.js";
import type { ErrorBody } from "../errors.js";
import { HandshakeVersionFields, type ConnectionData, type SessionAdded, type SessionInfo, type SessionStatus } from "../shared.js";

/** `/hub`: a user's live session list. Replaces legacy `/ws/hub` (docs/legacy-protocol.md section 6). */

export const HubAuthSchema = z.object({
  apiKey: z.string().min(1).optional(),
  ...HandshakeVersionFields,
});

/** The hub takes no commands: the server pushes. */
export const hubClientSchemas = {} as const;

export type HubClientToServer = ClientEventMap<typeof hubClientSchemas, Record<never, never>>;

export interface HubServerToClient {
  sessions: (payload: { sessions: SessionInfo[] }) => void;
  session_added: (payload: SessionAdded) => void;
  session_removed: (payload: { sessionId: string }) => void;
  session_status: (payload: SessionStatus) => void;
  error: (payload: ErrorBody) => void;
}

export type HubInterServer = NoInterServerEvents;

export interface HubSocketData extends ConnectionData {
  /** The session list was sent; a connection recovered without it (a failed list) asks again. */
  listed: boolean;
}
