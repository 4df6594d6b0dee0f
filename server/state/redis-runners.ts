import type { RunnerSkill } from "../../protocol/index.js";
import { hashSecret } from "../auth/secrets.js";
import { compareRunners } from "./records.js";
import {
  HSET_IF_EXISTS,
  RUNNER_ADD_SESSION,
  RUNNER_BIND_SECRET,
  LIST_INDEXED,
  RUNNER_REFRESH,
  RUNNER_REGISTER,
  RUNNER_REMOVE,
  replyArray,
  replyHash,
  replyNumber,
  replyString,
  type RedisCommandClient,
  type Reply,
  type ScriptRunner,
} from "./redis-scripts.js";
import type { RunnerRecord, RunnerRegistration, RunnerStore, SecretCheck } from "./types.js";

/*
 * Layout (P = prefix):
 *   P runner:{id}:secret     HASH  hash (SHA-256 of the secret), userId. No TTL; the plain secret is never stored.
 *   P runner:{id}            HASH  the live record, with a PX TTL. Strings as they are; name absent = null;
 *                                  roots and skills as JSON; generation in decimal. sessionIds are one field
 *                                  each, `session:{sessionId}` → its position (from the counter field
 *                                  `sessionCounter`), so adding and removing one needs no JSON in Lua.
 *   P user:{userId}:runners  SET   ids of the user's runners (stale members are dropped when listed); its
 *                                  TTL is only ever extended to outlast every member's.
 */

const SESSION_FIELD = "session:";
const set = (v: string): string => `s${v}`;
const nullable = (v: string | null): string => (v === null ? "d" : set(v));
const ttlArg = (ttlMs: number): string => String(Math.ceil(ttlMs));

function decodeRunner(fields: Map<string, string>): RunnerRecord {
  const need = (f: string): string => {
    const v = fields.get(f);
    if (v === undefined) throw new Error(`Corrupt runner record: no ${f}`);
    return v;
  };
  const sessions: Array<[string, number]> = [];
  for (const [field, value] of fields) {
    if (field.startsWith(SESSION_FIELD)) sessions.push([field.slice(SESSION_FIELD.length), Number(value)]);
  }
  return {
    runnerId: need("runnerId"),
    userId: need("userId"),
    userName: need("userName"),
    name: fields.get("name") ?? null,
    roots: JSON.parse(need("roots")) as string[],
    skills: JSON.parse(need("skills")) as RunnerSkill[],
    sessionIds: sessions.sort((a, b) => a[1] - b[1]).map(([id]) => id),
    generation: Number(need("generation")),
    nodeId: need("nodeId"),
    connectedAt: need("connectedAt"),
  };
}

export class RedisRunnerStore implements RunnerStore {
  constructor(
    private readonly client: RedisCommandClient,
    private readonly scripts: ScriptRunner,
    private readonly prefix: string,
  ) {}

  private recordKey(runnerId: string): string {
    return `${this.prefix}runner:${runnerId}`;
  }

  private userKey(userId: string): string {
    return `${this.prefix}user:${userId}:runners`;
  }

  async bindSecret(runnerId: string, secret: string, userId: string): Promise<SecretCheck> {
    const reply = replyString(
      await this.scripts.run(RUNNER_BIND_SECRET, [`${this.recordKey(runnerId)}:secret`], [hashSecret(secret), userId]),
      "bindSecret",
    );
    if (reply === "ok") return { ok: true };
    if (reply === "secret_mismatch" || reply === "other_user") return { ok: false, reason: reply };
    throw new Error(`Unexpected bindSecret reply ${reply}`);
  }

  async register(input: RunnerRegistration, ttlMs: number): Promise<RunnerRecord> {
    const reply = await this.scripts.run(
      RUNNER_REGISTER,
      [this.recordKey(input.runnerId), this.userKey(input.userId)],
      [
        this.prefix,
        input.runnerId,
        ttlArg(ttlMs),
        "runnerId", set(input.runnerId),
        "userId", set(input.userId),
        "userName", set(input.userName),
        "name", nullable(input.name),
        "roots", set(JSON.stringify(input.roots)),
        "skills", set(JSON.stringify(input.skills)),
        "nodeId", set(input.nodeId),
        "connectedAt", set(input.connectedAt),
      ],
    );
    return decodeRunner(replyHash(reply, "register"));
  }

  async get(runnerId: string): Promise<RunnerRecord | null> {
    const fields = replyHash(await this.client.sendCommand<Reply>(["HGETALL", this.recordKey(runnerId)]), "runner");
    return fields.size === 0 ? null : decodeRunner(fields);
  }

  async refresh(runnerId: string, generation: number, ttlMs: number): Promise<boolean> {
    const reply = await this.scripts.run(RUNNER_REFRESH, [this.recordKey(runnerId)], [this.prefix, String(generation), ttlArg(ttlMs)]);
    return replyNumber(reply, "refresh") === 1;
  }

  async remove(runnerId: string, generation: number): Promise<boolean> {
    const reply = await this.scripts.run(RUNNER_REMOVE, [this.recordKey(runnerId)], [this.prefix, String(generation), runnerId]);
    return replyNumber(reply, "remove") === 1;
  }

  async listByUser(userId: string): Promise<RunnerRecord[]> {
    const reply = replyArray(await this.scripts.run(LIST_INDEXED, [this.userKey(userId)], [`${this.prefix}runner:`, "userId", userId]), "runners");
    return reply.map((r) => decodeRunner(replyHash(r, "runners"))).sort(compareRunners);
  }

  async setSkills(runnerId: string, skills: RunnerSkill[]): Promise<void> {
    await this.scripts.run(HSET_IF_EXISTS, [this.recordKey(runnerId)], ["skills", JSON.stringify(skills)]);
  }

  async addSession(runnerId: string, sessionId: string): Promise<void> {
    await this.scripts.run(RUNNER_ADD_SESSION, [this.recordKey(runnerId)], [`${SESSION_FIELD}${sessionId}`]);
  }

  /** HDEL never creates the hash nor touches its TTL: no script needed. */
  async removeSession(runnerId: string, sessionId: string): Promise<void> {
    await this.client.sendCommand(["HDEL", this.recordKey(runnerId), `${SESSION_FIELD}${sessionId}`]);
  }
}
