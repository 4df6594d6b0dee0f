import { z } from "zod";
import type { ClientEventMap, NoInterServerEvents } from "../define.js";
import type { ErrorBody } from "../errors.js";
import { HandshakeVersionFields, type ConnectionData, type DisconnectReason, type SessionEventFrame } from "../shared.js";

/**
 * `/viewer`: a browser watches and drives one session. Replaces legacy `/ws/sessions/:id`
 * (docs/legacy-protocol.md section 3). The session id and an optional resume point come in the handshake.
 */

export const ViewerAuthSchema = z.object({
  sessionId: z.string().min(1),
  /** Resume point: the last `seq` this viewer rendered. */
  lastSeq: z.number().int().nonnegative().optional(),
  /** For tools; browsers authenticate with the session cookie. */
  apiKey: z.string().min(1).optional(),
  ...HandshakeVersionFields,
});

const Empty = z.object({});

export const InputSchema = z.object({
  text: z.string(),
  /** Normalised by the relay (legacy 3.2): entries are filtered and stripped, never rejected. */
  attachments: z.array(z.unknown()).optional(),
  client: z.unknown().optional(),
  deliverAs: z.unknown().optional(),
});

export const ModelSetSchema = z.object({ provider: z.string(), modelId: z.string() });

/** Forwarded verbatim to the CLI, command-specific arguments included. */
export const ExecSchema = z.looseObject({ id: z.string(), command: z.string() });

/** The events after `afterSeq` from the session's log: how a viewer fills a gap in `seq`. */
export const CatchUpSchema = z.object({ afterSeq: z.number().int().nonnegative() });

export const viewerClientSchemas = {
  resync: Empty,
  catch_up: CatchUpSchema,
  connected: Empty,
  input: InputSchema,
  model_set: ModelSetSchema,
  exec: ExecSchema,
} as const;

interface ViewerReplies {
  /**
   * `complete`: `events` are every stored event after `afterSeq`, in order. Otherwise the log no longer
   * reaches back that far (or the session is gone) and `events` is empty: the viewer needs a snapshot.
   */
  catch_up: { events: SessionEventFrame[]; complete: boolean };
}

export type ViewerClientToServer = ClientEventMap<typeof viewerClientSchemas, ViewerReplies>;

export interface ViewerConnected {
  sessionId: string;
  /** Live sessions: the session's current `seq`. */
  lastSeq?: number;
  isActive?: boolean;
  lastHeartbeatAt?: string | null;
  sessionName?: string | null;
  /** The session is not live: a snapshot follows, then `disconnected`. */
  replayOnly?: true;
  /**
   * Set when the handshake's `lastSeq` was honoured: the events after it follow as `event`s (then live
   * events). Absent when the log no longer reached back: a fresh snapshot follows instead.
   */
  resumedFrom?: number;
}

export interface RunnerSessionFrame {
  runnerId: string;
  sessionId: string;
  message?: string;
}

export interface ViewerServerToClient {
  connected: (payload: ViewerConnected) => void;
  /**
   * The join sequence (snapshot or replayed events) is complete: from here on only live events follow,
   * each with a seq above `lastSeq` (an event at or below it was already covered: drop it).
   */
  synced: (payload: { sessionId: string; lastSeq: number }) => void;
  event: (payload: SessionEventFrame) => void;
  exec_result: (payload: { id: string; ok: boolean; command: string } & Record<string, unknown>) => void;
  session_ready: (payload: RunnerSessionFrame) => void;
  session_error: (payload: RunnerSessionFrame) => void;
  session_killed: (payload: RunnerSessionFrame) => void;
  disconnected: (payload: { reason: DisconnectReason }) => void;
  error: (payload: ErrorBody) => void;
}

export type ViewerInterServer = NoInterServerEvents;

export interface ViewerSocketData extends ConnectionData {
  sessionId: string;
  lastSeq: number | null;
  /**
   * The join sequence completed. Kept in the recovery session: a connection recovered after a failed
   * join (the relay closed it so the client would retry) must join again, not just resume.
   */
  joined: boolean;
}
