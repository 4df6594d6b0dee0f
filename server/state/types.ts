import type { ModelSummary } from "../../protocol/index.js";

/**
 * The shared state of the relay: one interface, two implementations (in-memory for the embedded
 * single-node mode, Redis for a cluster), held to one contract by test/contract/state.contract.ts.
 *
 * Every method is async and may reject when the backend is unreachable; callers turn that into a
 * typed `unavailable` error, never a crash.
 */

export interface Identity {
  userId: string;
  userName: string;
}

export interface ApiKeyMeta extends Identity {
  id: string;
  name: string | null;
  createdAt: string;
}

export interface ApiKeyStore {
  /** Mints a key. The plain key is returned once and never stored: only its SHA-256 is. */
  create(input: Identity & { name?: string | null }): Promise<{ key: string; meta: ApiKeyMeta }>;
  verify(key: string): Promise<ApiKeyMeta | null>;
  list(userId?: string): Promise<ApiKeyMeta[]>;
  revoke(id: string): Promise<boolean>;
}

export interface LoginStore {
  /** Creates a browser login; the token is returned once, stored hashed, and expires after ttlMs. */
  create(identity: Identity, ttlMs: number): Promise<string>;
  verify(token: string): Promise<Identity | null>;
  delete(token: string): Promise<void>;
}

export interface SessionRecord extends Identity {
  sessionId: string;
  cwd: string;
  shareUrl: string;
  startedAt: string;
  sessionName: string | null;
  isEphemeral: boolean;
  collabMode: boolean;
  isActive: boolean;
  lastHeartbeatAt: string | null;
  model: ModelSummary | null;
  runnerId: string | null;
  runnerName: string | null;
  /** Bumped by every registration; only the current generation may publish or end the session. */
  generation: number;
  /** The last viewer `seq` published. Never goes backwards for an id, across re-registrations too. */
  seq: number;
  /** Epoch ms after which an ephemeral session expires; null for non-ephemeral ones. */
  expiresAt: number | null;
  live: boolean;
  endedAt: string | null;
}

export interface ClaimInput extends Identity {
  /** The id the client asked for (already trimmed); absent or empty means "make one". */
  sessionId?: string;
  cwd: string;
  sessionName: string | null;
  isEphemeral: boolean;
  collabMode: boolean;
  now: number;
  expiresAt: number | null;
  /** TTL applied to the record, snapshot and log keys (refreshed on activity). */
  ttlMs: number;
  shareUrlFor: (sessionId: string) => string;
  newId: () => string;
}

export type ClaimOutcome =
  /** A new session (the id was unknown or its previous incarnation ended). */
  | "created"
  /** The same user re-registered a live id: same session, next generation, seq and viewers kept. */
  | "reconnected"
  /** The id belongs to another user: a fresh id was issued instead. */
  | "reassigned";

export interface ClaimResult {
  record: SessionRecord;
  outcome: ClaimOutcome;
  /** For "reconnected": the generation that was replaced. */
  previousGeneration?: number;
}

export type PublishKind = "state" | "heartbeat" | "other";

export interface PublishInput {
  sessionId: string;
  generation: number;
  /** The event as JSON text, or undefined when the frame carried no event. */
  eventJson: string | undefined;
  kind: PublishKind;
  now: number;
  /** For kind "state": the `state` JSON text to keep as the snapshot (absent state is kept as absent). */
  stateJson?: string | undefined;
  /** Record fields to update together with the append (heartbeat status, session name). */
  patch?: Partial<Pick<SessionRecord, "isActive" | "lastHeartbeatAt" | "model" | "sessionName">>;
  expiresAt: number | null;
  ttlMs: number;
  bufferSize: number;
}

export type PublishResult = { ok: true; seq: number } | { ok: false; reason: "stale" | "not_live" };

export interface LoggedEvent {
  seq: number;
  ts: number;
  /** JSON text of the event, or undefined when the frame had none. */
  eventJson: string | undefined;
}

export interface Snapshot {
  /** JSON of the last `session_active` state; undefined if none was ever received. */
  stateJson: string | undefined;
  /** True when a `session_active` arrived (its state may itself have been absent). */
  hasState: boolean;
  /** JSON of the last heartbeat event. */
  heartbeatJson: string | undefined;
}

export interface SessionView {
  record: SessionRecord;
  snapshot: Snapshot;
  /** Present when afterSeq was asked: the events after it, if the log still reaches back that far. */
  log?: { complete: true; events: LoggedEvent[] } | { complete: false };
}

export interface SessionStore {
  claim(input: ClaimInput): Promise<ClaimResult>;
  get(sessionId: string): Promise<SessionRecord | null>;
  /** Reads record, snapshot and (optionally) the log after afterSeq in one atomic step. */
  view(sessionId: string, afterSeq?: number): Promise<SessionView | null>;
  /** Appends one event (seq + 1), updates the snapshot and record: atomic, ordered per caller. */
  publish(input: PublishInput): Promise<PublishResult>;
  /** Refreshes expiry (viewer joins); no-op unless live. */
  touch(sessionId: string, expiresAt: number | null, ttlMs: number): Promise<void>;
  /** Ends the session iff it is live at that generation. Record and snapshot stay for replay (ttlMs). */
  end(sessionId: string, generation: number, now: number, ttlMs: number): Promise<SessionRecord | null>;
  /** Live sessions of a user, oldest first. */
  listByUser(userId: string): Promise<SessionRecord[]>;
  /** Live ephemeral sessions whose expiry passed. */
  listExpired(now: number): Promise<Array<{ sessionId: string; generation: number }>>;
}

export interface SharedState {
  readonly kind: "memory" | "redis";
  readonly keys: ApiKeyStore;
  readonly logins: LoginStore;
  readonly sessions: SessionStore;
  /** Resolves when the backend answers; rejects otherwise. Used by /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
