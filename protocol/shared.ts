import { z } from "zod";
import type { Generation } from "./generations.js";

/**
 * The version fields every handshake `auth` may carry. `protocolVersion` is a semver string for this
 * relay's clients and the JSON number 1 for the socket-v1 generation (protocol/generations.ts decides
 * which are served); `clientVersion` is the client's release, free text.
 */
export const HandshakeVersionFields = {
  protocolVersion: z.union([z.string().max(64), z.number()]).optional(),
  clientVersion: z.string().max(128).optional(),
};

/** What every namespace knows about a connection once its handshake passed (socket.data). */
export interface ConnectionData {
  userId: string;
  userName: string;
  /** As declared, normalised for logs and the census: "0.0.0" (legacy), "none", "1", or the semver. */
  protocolVersion: string;
  clientVersion: string | null;
  /** The client generation the handshake routed the connection to (protocol/generations.ts). */
  clientGeneration: Generation;
  /** The API key that authenticated the connection (null for a login cookie or the runner token). */
  keyId: string | null;
}

/**
 * Shapes shared by several namespaces. Field sets follow docs/legacy-protocol.md sections 2.6, 4 and 6:
 * the typed protocol carries the same data as the legacy frames.
 */

/** Model as the hub shows it (from the last heartbeat). */
export const ModelSummarySchema = z.object({
  provider: z.string(),
  id: z.string(),
  name: z.string().optional(),
});
export type ModelSummary = z.infer<typeof ModelSummarySchema>;

/** Model as the CLI reports it in a heartbeat. */
export const HeartbeatModelSchema = ModelSummarySchema.extend({ reasoning: z.boolean().optional() });
export type HeartbeatModel = z.infer<typeof HeartbeatModelSchema>;

/** Model as `session_active.state.model` and `model_set` name it. */
export const ModelRefSchema = z.object({ provider: z.string(), modelId: z.string() });
export type ModelRef = z.infer<typeof ModelRefSchema>;

export const TodoItemSchema = z.object({
  id: z.number(),
  text: z.string(),
  status: z.enum(["pending", "in_progress", "done", "cancelled"]),
});
export type TodoItem = z.infer<typeof TodoItemSchema>;

/** An input attachment after the relay's normalisation (legacy 3.2): only these string fields survive. */
export const AttachmentSchema = z.object({
  attachmentId: z.string().optional(),
  mediaType: z.string().optional(),
  filename: z.string().optional(),
  url: z.string().optional(),
});
export type Attachment = z.infer<typeof AttachmentSchema>;

export const RunnerSkillSchema = z.object({
  name: z.string(),
  description: z.string(),
  filePath: z.string(),
});
export type RunnerSkill = z.infer<typeof RunnerSkillSchema>;

export const RunnerInfoSchema = z.object({
  runnerId: z.string(),
  name: z.string().nullable(),
  roots: z.array(z.string()),
  sessionCount: z.number(),
  skills: z.array(RunnerSkillSchema),
});
export type RunnerInfo = z.infer<typeof RunnerInfoSchema>;

/** Hub list item (legacy 6, `sessions`). */
export const SessionInfoSchema = z.object({
  sessionId: z.string(),
  shareUrl: z.string(),
  cwd: z.string(),
  startedAt: z.string(),
  viewerCount: z.number(),
  userId: z.string(),
  userName: z.string(),
  sessionName: z.string().nullable(),
  isEphemeral: z.boolean(),
  expiresAt: z.string().nullable(),
  isActive: z.boolean(),
  lastHeartbeatAt: z.string().nullable(),
  model: ModelSummarySchema.nullable(),
  runnerId: z.string().nullable(),
  runnerName: z.string().nullable(),
});
export type SessionInfo = z.infer<typeof SessionInfoSchema>;

/** Hub `session_added`: the list item without `viewerCount` and `expiresAt`. */
export type SessionAdded = Omit<SessionInfo, "viewerCount" | "expiresAt">;

/** Hub `session_status`; the runner variant adds `runnerId` and `runnerName`. */
export interface SessionStatus {
  sessionId: string;
  isActive: boolean;
  lastHeartbeatAt: string | null;
  sessionName: string | null;
  model: ModelSummary | null;
  runnerId?: string | null;
  runnerName?: string | null;
}

/** An opaque agent event (legacy 2.6): the relay reads only `type` and a few fields of some types. */
export type AgentEvent = Record<string, unknown> & { type?: unknown };

/** One published session event as viewers receive it. */
export interface SessionEventFrame {
  event?: unknown;
  seq?: number;
  replay?: true;
  /**
   * Live events: when the relay stored the event (epoch ms of the node that did). Nodes measure their
   * publish-to-delivery latency from it; clients may ignore it. Legacy viewers never see it.
   */
  publishedAt?: number;
  /**
   * A snapshot frame (the last heartbeat or `session_active` state, sent on join and `resync` under the
   * current seq): the state as of that seq, not a new event. Live events carry no such flag.
   */
  snapshot?: true;
}

export type DisconnectReason =
  | "Session ended"
  | "Session reconnected"
  | "Session expired"
  | "Session is no longer live (snapshot replay).";
