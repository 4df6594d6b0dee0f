import { hashSecret, newId, randomHex } from "../auth/secrets.js";
import type { ApiKeyMeta, ClaimInput, Identity, SessionRecord } from "./types.js";

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
export function mintApiKey(input: Identity & { name?: string | null }): { key: string; hash: string; meta: ApiKeyMeta } {
  const key = randomHex(32);
  return {
    key,
    hash: hashSecret(key),
    meta: { id: newId(), userId: input.userId, userName: input.userName, name: input.name ?? null, createdAt: new Date().toISOString() },
  };
}
