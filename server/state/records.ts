import { hashSecret, newId, randomHex } from "../auth/secrets.js";
import type {
  ApiKeyMeta,
  ClaimInput,
  NewApiKey,
  PushSubscriptionRecord,
  RunnerRecord,
  RunnerRegistration,
  SessionRecord,
  TerminalRecord,
} from "./types.js";

/** Record construction shared by the state implementations, so both build exactly the same values. */

/** A brand-new session's record (generation 1, seq 0) for a claim. */
export function newSessionRecord(input: ClaimInput, sessionId: string): SessionRecord {
  return {
    sessionId,
    userId: input.userId,
    userName: input.userName,
    cwd: input.cwd,
    shareUrl: input.shareUrlFor(sessionId),
    startedAt: new Date(input.now).toISOString(),
    sessionName: input.sessionName,
    isEphemeral: input.isEphemeral,
    collabMode: input.collabMode,
    isActive: false,
    lastHeartbeatAt: null,
    model: null,
    runnerId: null,
    runnerName: null,
    generation: 1,
    seq: 0,
    expiresAt: input.expiresAt,
    live: true,
    endedAt: null,
  };
}

/** A fresh API key: the plain key (shown once), its hash (stored) and its metadata. */
export function mintApiKey(input: NewApiKey): { key: string; hash: string; meta: ApiKeyMeta } {
  const key = randomHex(32);
  return {
    key,
    hash: hashSecret(key),
    meta: { id: newId(), userId: input.userId, userName: input.userName, name: input.name ?? null, createdAt: new Date().toISOString(), admin: input.admin === true },
  };
}

/** The order of SessionStore.listEnded: most recently ended first, then sessionId. */
export function compareEnded(a: SessionRecord, b: SessionRecord): number {
  return (b.endedAt ?? "").localeCompare(a.endedAt ?? "") || a.sessionId.localeCompare(b.sessionId);
}

/** A runner's record for a registration: both implementations build it here, field for field. */
export function newRunnerRecord(input: RunnerRegistration, generation: number, sessionIds: string[]): RunnerRecord {
  return {
    runnerId: input.runnerId,
    userId: input.userId,
    userName: input.userName,
    name: input.name,
    roots: [...input.roots],
    skills: input.skills.map((s) => ({ ...s })),
    sessionIds: [...sessionIds],
    generation,
    nodeId: input.nodeId,
    connectedAt: input.connectedAt,
  };
}

/** The order of RunnerStore.listByUser: connectedAt, then runnerId. */
export function compareRunners(a: RunnerRecord, b: RunnerRecord): number {
  return a.connectedAt.localeCompare(b.connectedAt) || a.runnerId.localeCompare(b.runnerId);
}

/** The order of TerminalStore.listByRunner: createdAt, then terminalId. */
export function compareTerminals(a: TerminalRecord, b: TerminalRecord): number {
  return a.createdAt.localeCompare(b.createdAt) || a.terminalId.localeCompare(b.terminalId);
}

/** The order of PushStore.list: createdAt, then endpoint. */
export function comparePush(a: PushSubscriptionRecord, b: PushSubscriptionRecord): number {
  return a.createdAt.localeCompare(b.createdAt) || a.endpoint.localeCompare(b.endpoint);
}
