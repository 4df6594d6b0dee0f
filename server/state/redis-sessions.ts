import { compareEnded, newSessionRecord } from "./records.js";
import type { ModelSummary } from "../../protocol/index.js";
import {
  CLAIM,
  COUNT_USER_SESSIONS,
  END,
  LINK_RUNNER,
  LIST_USER_SESSIONS,
  LIST_EXPIRED,
  PUBLISH,
  SET_PENDING_LINK,
  TOUCH,
  VIEW,
  replyArray,
  replyHash,
  replyNumber,
  replyString,
  type RedisCommandClient,
  type Reply,
  type ScriptRunner,
} from "./redis-scripts.js";
import type {
  ClaimInput,
  ClaimResult,
  LoggedEvent,
  PublishInput,
  PublishResult,
  RunnerLink,
  SessionRecord,
  SessionStore,
  SessionView,
  Snapshot,
} from "./types.js";

/*
 * Layout (P = prefix):
 *   P session:{id}           HASH  the record. Strings as they are; booleans "1"/"0"; numbers in decimal;
 *                                  model as JSON; a null field is an absent field.
 *   P session:{id}:events    LIST  `{"seq":N,"ts":MS,"event":<event JSON>}` ("event" omitted when none),
 *                                  trimmed to bufferSize.
 *   P session:{id}:snapshot  HASH  state (JSON, absent = none), hasState "1"/"0", heartbeat (JSON).
 *   P user:{userId}:sessions SET   live ids of the user (stale members are dropped when listed).
 *   P user:{userId}:ended    SET   ids the user's sessions ended under (dropped when listed once the
 *                                  record is gone or live again); its TTL outlasts the ended records'.
 *   P sessions:expiry        ZSET  live ephemeral ids scored by expiresAt.
 *   P pendinglink:{id}       HASH  runnerId, runnerName (absent = null) of a runner spawning the id, with
 *                                  a PX TTL; consumed by the claim that creates the id.
 * Record, snapshot and log share one TTL, refreshed by claim, publish, touch and end.
 */

/** A hash value for the scripts: "s<text>" sets the field, "d" deletes it (null). */
const set = (v: string): string => `s${v}`;
const nullable = (v: string | null): string => (v === null ? "d" : set(v));
const bool = (v: boolean): string => set(v ? "1" : "0");
const ttlArg = (ttlMs: number): string => String(Math.ceil(ttlMs));

function recordFields(r: SessionRecord): string[] {
  return [
    "sessionId", set(r.sessionId),
    "userId", set(r.userId),
    "userName", set(r.userName),
    "cwd", set(r.cwd),
    "shareUrl", set(r.shareUrl),
    "startedAt", set(r.startedAt),
    "sessionName", nullable(r.sessionName),
    "isEphemeral", bool(r.isEphemeral),
    "collabMode", bool(r.collabMode),
    "isActive", bool(r.isActive),
    "lastHeartbeatAt", nullable(r.lastHeartbeatAt),
    "model", nullable(r.model === null ? null : JSON.stringify(r.model)),
    "runnerId", nullable(r.runnerId),
    "runnerName", nullable(r.runnerName),
    "generation", set(String(r.generation)),
    "seq", set(String(r.seq)),
    "expiresAt", nullable(r.expiresAt === null ? null : String(r.expiresAt)),
    "live", bool(r.live),
    "endedAt", nullable(r.endedAt),
  ];
}

function patchFields(patch: PublishInput["patch"]): string[] {
  if (!patch) return [];
  const out: string[] = [];
  if (patch.isActive !== undefined) out.push("isActive", bool(patch.isActive));
  if (patch.lastHeartbeatAt !== undefined) out.push("lastHeartbeatAt", nullable(patch.lastHeartbeatAt));
  if (patch.model !== undefined) out.push("model", nullable(patch.model === null ? null : JSON.stringify(patch.model)));
  if (patch.sessionName !== undefined) out.push("sessionName", nullable(patch.sessionName));
  return out;
}

function decodeRecord(fields: Map<string, string>): SessionRecord {
  const need = (f: string): string => {
    const v = fields.get(f);
    if (v === undefined) throw new Error(`Corrupt session record: no ${f}`);
    return v;
  };
  const opt = (f: string): string | null => fields.get(f) ?? null;
  const num = (f: string): number => Number(need(f));
  const flag = (f: string): boolean => need(f) === "1";
  const model = opt("model");
  const expiresAt = opt("expiresAt");
  return {
    sessionId: need("sessionId"),
    userId: need("userId"),
    userName: need("userName"),
    cwd: need("cwd"),
    shareUrl: need("shareUrl"),
    startedAt: need("startedAt"),
    sessionName: opt("sessionName"),
    isEphemeral: flag("isEphemeral"),
    collabMode: flag("collabMode"),
    isActive: flag("isActive"),
    lastHeartbeatAt: opt("lastHeartbeatAt"),
    model: model === null ? null : (JSON.parse(model) as ModelSummary),
    runnerId: opt("runnerId"),
    runnerName: opt("runnerName"),
    generation: num("generation"),
    seq: num("seq"),
    expiresAt: expiresAt === null ? null : Number(expiresAt),
    live: flag("live"),
    endedAt: opt("endedAt"),
  };
}

function decodeSnapshot(fields: Map<string, string>): Snapshot {
  return {
    stateJson: fields.get("state"),
    hasState: fields.get("hasState") === "1",
    heartbeatJson: fields.get("heartbeat"),
  };
}

const ENTRY = /^\{"seq":(\d+),"ts":([^,]+?)(?:,"event":([\s\S]*))?\}$/;

/** Splits a log entry by position, so the event JSON comes back byte for byte. */
export function decodeLogEntry(text: string): LoggedEvent {
  const m = ENTRY.exec(text);
  if (!m) throw new Error("Corrupt session log entry");
  return { seq: Number(m[1]), ts: Number(m[2]), eventJson: m[3] };
}

export class RedisSessionStore implements SessionStore {
  constructor(
    private readonly client: RedisCommandClient,
    private readonly scripts: ScriptRunner,
    private readonly prefix: string,
  ) {}

  private recordKey(id: string): string {
    return `${this.prefix}session:${id}`;
  }

  /** record, snapshot, events, expiry zset: the KEYS of the per-session scripts. */
  private sessionKeys(id: string): string[] {
    const rec = this.recordKey(id);
    return [rec, `${rec}:snapshot`, `${rec}:events`, this.expiryKey];
  }

  private get expiryKey(): string {
    return `${this.prefix}sessions:expiry`;
  }

  private userKey(userId: string): string {
    return `${this.prefix}user:${userId}:sessions`;
  }

  private endedKey(userId: string): string {
    return `${this.prefix}user:${userId}:ended`;
  }

  private linkKey(sessionId: string): string {
    return `${this.prefix}pendinglink:${sessionId}`;
  }

  async claim(input: ClaimInput): Promise<ClaimResult> {
    const requested = input.sessionId && input.sessionId.length > 0 ? input.sessionId : undefined;
    let sessionId = requested ?? input.newId();
    let reassigned = false;
    const update = [
      "userName", set(input.userName),
      "cwd", set(input.cwd),
      "sessionName", nullable(input.sessionName),
      "isEphemeral", bool(input.isEphemeral),
      "collabMode", bool(input.collabMode),
      "expiresAt", nullable(input.expiresAt === null ? null : String(input.expiresAt)),
    ];
    for (let attempt = 0; attempt < 100; attempt++) {
      const base = recordFields(newSessionRecord(input, sessionId));
      // Only a claim of the requested id may consume (atomically, if it creates the id) its pending link.
      const linkKeys = requested !== undefined && !reassigned ? [this.linkKey(sessionId)] : [];
      const reply = replyArray(
        await this.scripts.run(
          CLAIM,
          [...this.sessionKeys(sessionId), this.userKey(input.userId), ...linkKeys],
          [
            sessionId,
            input.userId,
            ttlArg(input.ttlMs),
            reassigned ? "1" : "0",
            String(update.length / 2),
            String(base.length / 2),
            ...update,
            ...base,
          ],
        ),
        "claim",
      );
      const outcome = replyString(reply[0], "claim");
      if (outcome === "taken") {
        // The id is another user's (or, for a replacement id, in use at all): issue a fresh one.
        reassigned = true;
        sessionId = input.newId();
        continue;
      }
      const record = decodeRecord(replyHash(reply[2], "claim"));
      if (outcome === "reconnected") {
        return { record, outcome, previousGeneration: replyNumber(reply[1], "claim") };
      }
      return { record, outcome: reassigned ? "reassigned" : "created" };
    }
    throw new Error("Could not find a free session id");
  }

  async get(sessionId: string): Promise<SessionRecord | null> {
    const fields = replyHash(await this.client.sendCommand<Reply>(["HGETALL", this.recordKey(sessionId)]), "get");
    return fields.size === 0 ? null : decodeRecord(fields);
  }

  async view(sessionId: string, afterSeq?: number): Promise<SessionView | null> {
    const keys = this.sessionKeys(sessionId).slice(0, 3);
    const reply = await this.scripts.run(VIEW, keys, [afterSeq === undefined ? "" : String(afterSeq)]);
    if (reply === null || reply === undefined) return null;
    const [rec, snap, status, events] = replyArray(reply, "view");
    const view: SessionView = {
      record: decodeRecord(replyHash(rec, "view")),
      snapshot: decodeSnapshot(replyHash(snap, "view")),
    };
    if (afterSeq !== undefined) {
      view.log =
        replyNumber(status, "view") === 1
          ? {
              complete: true,
              events: replyArray(events, "view")
                .map((e) => decodeLogEntry(replyString(e, "view")))
                .filter((e) => e.seq > afterSeq),
            }
          : { complete: false };
    }
    return view;
  }

  /**
   * One EVALSHA, enqueued synchronously (before the first await): calls made without awaiting each
   * other execute, and so get their seqs, in call order.
   */
  async publish(input: PublishInput): Promise<PublishResult> {
    const patch = patchFields(input.patch);
    const hasState = input.kind === "state" && input.stateJson !== undefined;
    const pending = this.scripts.run(PUBLISH, this.sessionKeys(input.sessionId), [
      input.sessionId,
      this.prefix,
      input.owner ? "" : String(input.generation),
      ttlArg(input.ttlMs),
      String(Math.floor(input.bufferSize)),
      input.kind,
      String(input.now),
      input.eventJson === undefined ? "0" : "1",
      input.eventJson ?? "",
      hasState ? "1" : "0",
      hasState ? (input.stateJson ?? "") : "",
      nullable(input.expiresAt === null ? null : String(input.expiresAt)),
      String(patch.length / 2),
      input.dedupe?.streamId ?? "",
      input.dedupe ? String(input.dedupe.seq) : "0",
      input.dedupe?.after !== undefined ? String(input.dedupe.after) : "",
      input.owner?.userId ?? "",
      input.owner?.runnerId ?? "",
      input.owner ? ttlArg(input.owner.ephemeral.ttlMs) : "0",
      nullable(input.owner?.ephemeral.expiresAt == null ? null : String(input.owner.ephemeral.expiresAt)),
      ...patch,
    ]);
    const [ok, value] = replyArray(await pending, "publish");
    const status = replyNumber(ok, "publish");
    if (status === 1) return { ok: true, seq: replyNumber(value, "publish") };
    if (status === 2) return { ok: true, duplicate: true };
    const reason = replyString(value, "publish");
    if (reason !== "stale" && reason !== "not_live" && reason !== "gap" && reason !== "not_owner") throw new Error(`Unexpected publish refusal ${reason}`);
    return { ok: false, reason };
  }

  async touch(sessionId: string, expiresAt: number | null, ttlMs: number): Promise<void> {
    await this.scripts.run(TOUCH, this.sessionKeys(sessionId), [
      sessionId,
      this.prefix,
      nullable(expiresAt === null ? null : String(expiresAt)),
      ttlArg(ttlMs),
    ]);
  }

  async end(sessionId: string, generation: number, now: number, ttlMs: number): Promise<SessionRecord | null> {
    const reply = await this.scripts.run(END, this.sessionKeys(sessionId), [
      sessionId,
      this.prefix,
      String(generation),
      new Date(now).toISOString(),
      ttlArg(ttlMs),
    ]);
    if (reply === null || reply === undefined) return null;
    return decodeRecord(replyHash(reply, "end"));
  }

  async listByUser(userId: string): Promise<SessionRecord[]> {
    const reply = replyArray(await this.scripts.run(LIST_USER_SESSIONS, [this.userKey(userId)], [this.prefix, userId, "1"]), "listByUser");
    return reply
      .map((r) => decodeRecord(replyHash(r, "listByUser")))
      .sort((a, b) => a.startedAt.localeCompare(b.startedAt) || a.sessionId.localeCompare(b.sessionId));
  }

  async countLive(userId: string, atMost: number): Promise<number> {
    return replyNumber(await this.scripts.run(COUNT_USER_SESSIONS, [this.userKey(userId)], [this.prefix, userId, String(atMost)]), "countLive");
  }

  async listEnded(userId: string): Promise<SessionRecord[]> {
    const reply = replyArray(await this.scripts.run(LIST_USER_SESSIONS, [this.endedKey(userId)], [this.prefix, userId, "0"]), "listEnded");
    return reply.map((r) => decodeRecord(replyHash(r, "listEnded"))).sort(compareEnded);
  }

  async listExpired(now: number): Promise<Array<{ sessionId: string; generation: number }>> {
    const flat = replyArray(await this.scripts.run(LIST_EXPIRED, [this.expiryKey], [this.prefix, String(now)]), "listExpired");
    const out: Array<{ sessionId: string; generation: number }> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      out.push({ sessionId: replyString(flat[i], "listExpired"), generation: replyNumber(flat[i + 1], "listExpired") });
    }
    return out;
  }

  async setPendingLink(sessionId: string, link: RunnerLink, ttlMs: number): Promise<void> {
    await this.scripts.run(SET_PENDING_LINK, [this.linkKey(sessionId)], [ttlArg(ttlMs), link.runnerId, nullable(link.runnerName)]);
  }

  async getPendingLink(sessionId: string): Promise<RunnerLink | null> {
    const fields = replyHash(await this.client.sendCommand<Reply>(["HGETALL", this.linkKey(sessionId)]), "pending link");
    const runnerId = fields.get("runnerId");
    return runnerId === undefined ? null : { runnerId, runnerName: fields.get("runnerName") ?? null };
  }

  async linkRunner(sessionId: string, link: RunnerLink): Promise<SessionRecord | null> {
    const reply = await this.scripts.run(LINK_RUNNER, [this.recordKey(sessionId)], [link.runnerId, nullable(link.runnerName)]);
    if (reply === null || reply === undefined) return null;
    return decodeRecord(replyHash(reply, "linkRunner"));
  }
}
