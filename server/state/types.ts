import type { ModelSummary, RunnerSkill } from "../../protocol/index.js";

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
  /** The operator scope: the migration control routes and commands (`keys create --admin`). */
  admin: boolean;
}

export interface NewApiKey extends Identity {
  name?: string | null;
  admin?: boolean;
}

export interface ApiKeyStore {
  /** Mints a key. The plain key is returned once and never stored: only its SHA-256 is. */
  create(input: NewApiKey): Promise<{ key: string; meta: ApiKeyMeta }>;
  verify(key: string): Promise<ApiKeyMeta | null>;
  list(userId?: string): Promise<ApiKeyMeta[]>;
  revoke(id: string): Promise<boolean>;
  /** Whether the key with this id still exists (a login minted with a revoked key is void). */
  exists(id: string): Promise<boolean>;
  /** Which of these key ids still exist (one round trip: the revocation sweep asks for many). */
  existing(ids: readonly string[]): Promise<Set<string>>;
}

/** What a browser login remembers: who, and of which API key it was minted (revocation, the admin scope). */
export interface LoginIdentity extends Identity {
  /** The key logged in with: a login minted with an admin key is an admin session (the operator page). */
  admin: boolean;
  keyId: string | null;
}

export interface LoginStore {
  /** Creates a browser login; the token is returned once, stored hashed, and expires after ttlMs. */
  create(identity: LoginIdentity, ttlMs: number): Promise<string>;
  verify(token: string): Promise<LoginIdentity | null>;
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

/**
 * An event to append: a CLI's, under the registration it belongs to (`generation`: refused as `stale`
 * once the session registered again), or a runner's, under the session's ownership (`owner`).
 */
export type PublishInput = PublishFields & ({ generation: number; owner?: undefined } | { owner: PublishOwner; generation?: undefined });

/**
 * A runner's event (`runner_session_event`): the session must be live, this user's and linked to this
 * runner, checked in the same atomic step as the append (one round trip to shared state, not a read
 * and then the append); the event belongs to the session, whichever registration is live. When the
 * record is ephemeral, `ephemeral` gives its expiry and TTL instead of `expiresAt` and `ttlMs`. Refused
 * as `not_owner`.
 */
export interface PublishOwner {
  userId: string;
  runnerId: string;
  ephemeral: { expiresAt: number | null; ttlMs: number };
}

export interface PublishFields {
  sessionId: string;
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
  /**
   * The sender's own stream position, for clients that resend unacknowledged events after a reconnect:
   * an event whose `seq` is not above the last one stored for the same `streamId` is a duplicate and is
   * not appended. A different streamId starts over; a new incarnation of the session forgets it.
   */
  dedupe?: {
    streamId: string;
    seq: number;
    /**
     * The seq of the event the same connection sent before this one (absent for its first). A stream
     * position below it means that event was never stored (its append failed): this one is refused
     * (`gap`) instead of appended, or the stored position would make the resend of the missing event
     * look like a duplicate.
     */
    after?: number;
  };
}

export type PublishResult =
  | { ok: true; seq: number }
  /** Already stored (a resend): nothing was appended. */
  | { ok: true; duplicate: true }
  | { ok: false; reason: "stale" | "not_live" | "gap" | "not_owner" };

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

export interface RunnerLink {
  runnerId: string;
  runnerName: string | null;
}

export interface SessionStore {
  /**
   * Creates or re-claims a session. A "created" claim of the requested id consumes a pending runner
   * link for it (see setPendingLink): the new record carries its runnerId and runnerName.
   */
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
  /** How many live sessions a user has, counted up to `atMost` (the count stops there: a cap check). */
  countLive(userId: string, atMost: number): Promise<number>;
  /** Ended sessions of a user whose records are still kept (their replay TTL), most recently ended first. */
  listEnded(userId: string): Promise<SessionRecord[]>;
  /** Live ephemeral sessions whose expiry passed. */
  listExpired(now: number): Promise<Array<{ sessionId: string; generation: number }>>;
  /** Remembers that `sessionId` is being spawned by a runner, until it registers or ttlMs passes. */
  setPendingLink(sessionId: string, link: RunnerLink, ttlMs: number): Promise<void>;
  getPendingLink(sessionId: string): Promise<RunnerLink | null>;
  /** Sets the runner fields of a live session and returns the updated record; null if not live. */
  linkRunner(sessionId: string, link: RunnerLink): Promise<SessionRecord | null>;
}

export interface RunnerRecord extends Identity {
  runnerId: string;
  name: string | null;
  roots: string[];
  skills: RunnerSkill[];
  /** Sessions spawned through this runner (kept while the runner record lives). */
  sessionIds: string[];
  /** Bumped by every registration; only the current generation may refresh or remove the record. */
  generation: number;
  /** The node holding the runner's socket (for operators; delivery always goes through the room). */
  nodeId: string;
  connectedAt: string;
}

export type RunnerRegistration = Omit<RunnerRecord, "generation" | "sessionIds">;

export type SecretCheck = { ok: true } | { ok: false; reason: "secret_mismatch" | "other_user" };

export interface RunnerStore {
  /**
   * Binds a runner id to its secret (stored hashed) and to the user who first presented it; later
   * registrations of the id must present the same secret as the same user. The binding never expires.
   */
  bindSecret(runnerId: string, secret: string, userId: string): Promise<SecretCheck>;
  /** Stores the live record (generation + 1, sessionIds kept from a live predecessor) with a TTL. */
  register(input: RunnerRegistration, ttlMs: number): Promise<RunnerRecord>;
  get(runnerId: string): Promise<RunnerRecord | null>;
  /** Extends the TTL iff `generation` is current; false when the record is gone or replaced. */
  refresh(runnerId: string, generation: number, ttlMs: number): Promise<boolean>;
  /** Deletes the record iff `generation` is current. */
  remove(runnerId: string, generation: number): Promise<boolean>;
  listByUser(userId: string): Promise<RunnerRecord[]>;
  setSkills(runnerId: string, skills: RunnerSkill[]): Promise<void>;
  addSession(runnerId: string, sessionId: string): Promise<void>;
  removeSession(runnerId: string, sessionId: string): Promise<void>;
}

export interface TerminalRecord {
  terminalId: string;
  runnerId: string;
  userId: string;
  cwd: string | null;
  cols: number;
  rows: number;
  spawned: boolean;
  exited: boolean;
  /** Socket id of the attached browser, or null. */
  viewer: string | null;
  createdAt: string;
}

export interface TerminalStore {
  create(record: TerminalRecord, ttlMs: number): Promise<void>;
  get(terminalId: string): Promise<TerminalRecord | null>;
  /** Applies the patch; ttlMs: a number sets a new TTL, null removes the TTL, undefined keeps it. */
  update(terminalId: string, patch: Partial<Pick<TerminalRecord, "spawned" | "exited" | "cols" | "rows">>, ttlMs?: number | null): Promise<TerminalRecord | null>;
  delete(terminalId: string): Promise<void>;
  listByRunner(runnerId: string): Promise<TerminalRecord[]>;
  /**
   * One frame from the runner (JSON text). With a viewer attached it returns live=true and stores
   * nothing; without one it appends the frame to the terminal's buffer, dropping the oldest frames
   * beyond maxBytes in total, and returns live=false. Unknown terminal: { live: false, known: false }.
   */
  frame(terminalId: string, frameJson: string, maxBytes: number): Promise<{ live: boolean; known: boolean }>;
  /** Attaches a viewer (replacing any other) and atomically takes the buffered frames, oldest first. */
  attach(terminalId: string, viewer: string): Promise<{ record: TerminalRecord; buffered: string[] } | null>;
  /** Clears the viewer iff it is still `viewer`; returns the record after the change (or null if gone). */
  detach(terminalId: string, viewer: string): Promise<TerminalRecord | null>;
}

export interface PushSubscriptionRecord {
  endpoint: string;
  keys: { p256dh: string; auth: string };
  /** "*" or a comma list of notification types. */
  enabledEvents: string;
  userId: string;
  createdAt: string;
}

export interface PushStore {
  /** Adds or replaces (by endpoint) a subscription of the user. */
  add(record: PushSubscriptionRecord): Promise<void>;
  /** Removes the user's subscription with this endpoint; false if there was none. */
  remove(userId: string, endpoint: string): Promise<boolean>;
  list(userId: string): Promise<PushSubscriptionRecord[]>;
}

export interface SharedState {
  readonly kind: "memory" | "redis";
  readonly keys: ApiKeyStore;
  readonly logins: LoginStore;
  readonly sessions: SessionStore;
  readonly runners: RunnerStore;
  readonly terminals: TerminalStore;
  readonly push: PushStore;
  /** Resolves when the backend answers; rejects otherwise. Used by /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
