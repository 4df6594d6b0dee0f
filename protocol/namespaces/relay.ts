import { z } from "zod";
import type { ClientEventMap, NoInterServerEvents } from "../define.js";
import type { ErrorBody } from "../errors.js";
import { HandshakeVersionFields, type Attachment, type ConnectionData } from "../shared.js";

/**
 * `/relay`: the CLI (or a runner worker) publishes one live session. Replaces legacy `/ws/sessions`
 * (docs/legacy-protocol.md section 2). Event name = legacy `type`; payload = the legacy frame without `type`.
 */

export const RegisterSchema = z.object({
  sessionId: z.string().optional(),
  cwd: z.string().optional(),
  ephemeral: z.boolean().optional(),
  collabMode: z.boolean().optional(),
  sessionName: z.string().nullable().optional(),
  /**
   * Native clients that resend unacknowledged events after a reconnect: a random id of the client's
   * event stream, kept for the client's lifetime. With it, an `event` whose `seq` is not above the last
   * one stored for this stream is acknowledged as a duplicate and not published again.
   */
  streamId: z.string().min(1).max(128).optional(),
});

export const PublishEventSchema = z.object({
  /** Sent by legacy clients, ignored: the connection's registration names the session. */
  sessionId: z.string().optional(),
  /** Required from legacy clients; native clients may omit it (the socket is the credential). */
  token: z.string().optional(),
  /** Opaque agent event; may be absent. */
  event: z.unknown().optional(),
  /**
   * Client counter, acknowledged cumulatively by `event_ack`. With a registered `streamId` it must
   * increase by event (a safe integer): the relay de-duplicates resent events by it.
   */
  seq: z.number().optional(),
});

export const SessionEndSchema = z.object({
  sessionId: z.string().optional(),
  token: z.string().optional(),
});

/** Forwarded verbatim to viewers, so unknown keys are kept. */
export const ExecResultSchema = z.looseObject({
  id: z.string(),
  ok: z.boolean(),
  command: z.string(),
  result: z.unknown().optional(),
  error: z.string().optional(),
});

export const relayClientSchemas = {
  register: RegisterSchema,
  event: PublishEventSchema,
  session_end: SessionEndSchema,
  exec_result: ExecResultSchema,
} as const;

export interface Registered {
  sessionId: string;
  /** 64 hex chars; legacy clients echo it on every `event`. */
  token: string;
  shareUrl: string;
  isEphemeral: boolean;
  collabMode: boolean;
}

interface RelayReplies {
  register: Registered;
  /** The viewer-side `seq` the event was published under; `duplicate` (and no seq) for a resend already stored. */
  event: { seq?: number; duplicate?: true };
}

export type RelayClientToServer = ClientEventMap<typeof relayClientSchemas, RelayReplies>;

export interface RelayServerToClient {
  /** Reply to `register` for clients that send it without an ack (and for the legacy bridge). */
  registered: (payload: Registered) => void;
  /**
   * The cumulative mark. `seqs` only reaches clients that expect one ack per event (legacy CLIs, through
   * the bridge): every mark the acks it stands for would have carried, in order, `seq` the last of them.
   */
  event_ack: (payload: { sessionId: string; seq: number; seqs?: number[] }) => void;
  error: (payload: ErrorBody) => void;
  /** A viewer joined and asked for fresh state. */
  connected: (payload: Record<never, never>) => void;
  /** The socket-v1-acked generation acknowledges it (`delivered`); the others get no ack. */
  input: (payload: { text: string; attachments: Attachment[]; client?: string; deliverAs?: "steer" | "followUp" }, ack?: (delivered: boolean) => void) => void;
  model_set: (payload: { provider: string; modelId: string }) => void;
  /** Verbatim viewer `exec` frame without `type`. */
  exec: (payload: { id: string; command: string } & Record<string, unknown>) => void;
  session_expired: (payload: { sessionId: string }) => void;
}

export type RelayInterServer = NoInterServerEvents;

/** Handshake `auth` of `/relay`. */
export const RelayAuthSchema = z.object({
  /** Optional in the schema so a missing key is answered `unauthorized`, not `invalid_payload`. */
  apiKey: z.string().optional(),
  ...HandshakeVersionFields,
});

export interface RelaySocketData extends ConnectionData {
  /** Set by `register`; cleared by `session_end`. */
  sessionId: string | null;
  token: string | null;
  /** Registration generation in shared state: only the current one may tear the session down. */
  generation: number;
  /** Cumulative high-water mark of the client's `seq` acknowledged by `event_ack` (stored). */
  lastAckedSeq: number;
  /**
   * The lowest client `seq` of this registration that was not stored (refused or failed): the cumulative
   * `event_ack` never reaches it, so it never claims an event the relay does not have. Null: none.
   */
  ackLimit: number | null;
  /** The registered `streamId` (native resending clients), null when the client sent none. */
  streamId: string | null;
  /** The `seq` of the last event this registration sent under its `streamId` (null before the first). */
  lastStreamSeq: number | null;
}
