import { z } from "zod";
import { GENERATIONS, isGeneration, type Generation } from "../../protocol/index.js";
import { LuaScript, replyArray, replyHash, replyNumber, replyString, ScriptRunner, type RedisCommandClient, type Reply } from "../../server/state/redis-scripts.js";
import { MODES, type ClientKind } from "../modes.js";
import { sumByGeneration, totals } from "./memory-store.js";
import { MAX_VERSIONS_PER_SUBJECT, type CensusStore, type MinuteCounts, type NodeReport, type Sighting, type Subject, type SubjectKind } from "./types.js";

const MINUTE = 60_000;

/**
 * KEYS: subject hash, the generation's seen zset. ARGV: member, at, client kind, client version ('' for
 * none), retention ms, max versions. First and last seen, the client kinds and the most recent client
 * versions (older ones dropped past the bound), all expiring `retention` after the last sighting.
 */
const RECORD_SIGHTING = new LuaScript(
  "censusRecordSighting",
  `
local at = tonumber(ARGV[2])
redis.call('HSETNX', KEYS[1], 'first', ARGV[2])
local last = tonumber(redis.call('HGET', KEYS[1], 'last') or '0')
if at > last then redis.call('HSET', KEYS[1], 'last', ARGV[2]) end
redis.call('HSET', KEYS[1], 'k:' .. ARGV[3], ARGV[2])
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[1], 'v:' .. ARGV[4], ARGV[2])
  local fields = redis.call('HGETALL', KEYS[1])
  local versions = {}
  for i = 1, #fields, 2 do
    if string.sub(fields[i], 1, 2) == 'v:' then versions[#versions + 1] = { fields[i], tonumber(fields[i + 1]) } end
  end
  table.sort(versions, function(a, b) return a[2] > b[2] end)
  for i = tonumber(ARGV[6]) + 1, #versions do redis.call('HDEL', KEYS[1], versions[i][1]) end
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
local score = tonumber(redis.call('ZSCORE', KEYS[2], ARGV[1]) or '0')
if at > score then redis.call('ZADD', KEYS[2], at, ARGV[1]) end
return 1
`,
);

const ModeEntry = z.object({ mode: z.enum(MODES), source: z.enum(["boot", "runtime"]), appliedAt: z.number().nullable() });
const ReportSchema = z.object({
  nodeId: z.string(),
  at: z.number(),
  startedAt: z.number(),
  modes: z.record(z.string(), ModeEntry),
  live: z.array(z.object({ namespace: z.string(), generation: z.string(), transport: z.string(), count: z.number() })),
  deprecated: z.record(z.string(), z.number()),
  liveSubjects: z.array(z.object({ generation: z.string(), kind: z.enum(["user", "runner"]), id: z.string() })).default([]),
});

/**
 * The census in Redis, under `<prefix>census:`:
 * - `node:<nodeId>` the node's last report (JSON, PX = a few flushes) and `nodes` ZSET nodeId → time;
 * - `minute:<epoch minute>` HASH `<generation>|<nodeId>` → live count, kept for the retention period;
 * - `seen:<generation>` ZSET `<kind>:<id>` → last seen, pruned past the retention period;
 * - `subject:<generation>:<kind>:<id>` HASH first, last, `k:<client kind>`, `v:<client version>`
 *   (the most recent few), expiring with the retention period.
 */
export class RedisCensusStore implements CensusStore {
  private readonly scripts: ScriptRunner;
  private readonly p: string;

  constructor(
    private readonly client: RedisCommandClient,
    prefix: string,
    private readonly clock: () => number = Date.now,
  ) {
    this.scripts = new ScriptRunner(client);
    this.p = `${prefix}census:`;
  }

  private send(args: string[]): Promise<Reply> {
    return this.client.sendCommand<Reply>(args);
  }

  async report(report: NodeReport, ttlMs: number, retentionMs: number): Promise<void> {
    const minuteKey = `${this.p}minute:${Math.floor(report.at / MINUTE)}`;
    const live = totals(report);
    const fields = GENERATIONS.flatMap((g) => [`${g}|${report.nodeId}`, String(live.get(g) ?? 0)]);
    await Promise.all([
      this.send(["SET", `${this.p}node:${report.nodeId}`, JSON.stringify(report), "PX", String(Math.ceil(ttlMs))]),
      this.send(["ZADD", `${this.p}nodes`, String(report.at), report.nodeId]),
      this.send(["HSET", minuteKey, ...fields]),
      this.send(["PEXPIRE", minuteKey, String(Math.ceil(retentionMs))]),
    ]);
  }

  async record(sightings: Sighting[], retentionMs: number): Promise<void> {
    const touched = new Set<Generation>();
    const writes = sightings.map((s) => {
      touched.add(s.generation);
      return this.scripts.run(
        RECORD_SIGHTING,
        [this.subjectKey(s.generation, s.kind, s.id), `${this.p}seen:${s.generation}`],
        [`${s.kind}:${s.id}`, String(s.at), s.clientKind, s.clientVersion ?? "", String(Math.ceil(retentionMs)), String(MAX_VERSIONS_PER_SUBJECT)],
      );
    });
    const horizon = this.clock() - retentionMs;
    const prunes = [...touched].map((g) => this.send(["ZREMRANGEBYSCORE", `${this.p}seen:${g}`, "-inf", `(${horizon}`]));
    await Promise.all([...writes, ...prunes]);
  }

  async nodes(): Promise<NodeReport[]> {
    const ids = replyArray(await this.send(["ZRANGE", `${this.p}nodes`, "0", "-1"]), "census nodes").map((r) => replyString(r, "census node id"));
    if (ids.length === 0) return [];
    const raw = replyArray(await this.send(["MGET", ...ids.map((id) => `${this.p}node:${id}`)]), "census node reports");
    const out: NodeReport[] = [];
    const gone: string[] = [];
    raw.forEach((value, i) => {
      const parsed = value === null || value === undefined ? null : ReportSchema.safeParse(JSON.parse(replyString(value, "census node report")));
      if (parsed?.success) out.push(parsed.data as NodeReport);
      else gone.push(ids[i] ?? "");
    });
    // A node whose report expired is dead (or cut off): forget it.
    if (gone.length > 0) await this.send(["ZREM", `${this.p}nodes`, ...gone]);
    return out.sort((a, b) => a.nodeId.localeCompare(b.nodeId));
  }

  async subjects(generation: Generation, since: number, limit: number): Promise<{ total: number; subjects: Subject[] }> {
    const zset = `${this.p}seen:${generation}`;
    const [total, members] = await Promise.all([
      this.send(["ZCOUNT", zset, String(since), "+inf"]),
      this.send(["ZREVRANGEBYSCORE", zset, "+inf", String(since), "WITHSCORES", "LIMIT", "0", String(limit)]),
    ]);
    const flat = replyArray(members, "census seen");
    const seen: Array<{ kind: SubjectKind; id: string; lastSeen: number }> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const member = replyString(flat[i], "census member");
      const colon = member.indexOf(":");
      seen.push({ kind: member.slice(0, colon) as SubjectKind, id: member.slice(colon + 1), lastSeen: replyNumber(flat[i + 1], "census score") });
    }
    const details = await Promise.all(seen.map((s) => this.send(["HGETALL", this.subjectKey(generation, s.kind, s.id)])));
    const subjects = seen.map((s, i) => subjectOf(generation, s.kind, s.id, s.lastSeen, replyHash(details[i], "census subject")));
    return { total: replyNumber(total, "census count"), subjects };
  }

  async subject(generation: Generation, kind: SubjectKind, id: string): Promise<Subject | null> {
    const [fields, score] = await Promise.all([
      this.send(["HGETALL", this.subjectKey(generation, kind, id)]),
      this.send(["ZSCORE", `${this.p}seen:${generation}`, `${kind}:${id}`]),
    ]);
    const hash = replyHash(fields, "census subject");
    if (hash.size === 0 || score === null || score === undefined) return null;
    return subjectOf(generation, kind, id, replyNumber(score, "census score"), hash);
  }

  async lastSeen(generation: Generation): Promise<number | null> {
    const reply = replyArray(await this.send(["ZREVRANGE", `${this.p}seen:${generation}`, "0", "0", "WITHSCORES"]), "census last seen");
    return reply.length >= 2 ? replyNumber(reply[1], "census last seen") : null;
  }

  async history(fromMinute: number, toMinute: number): Promise<MinuteCounts[]> {
    const minutes = Array.from({ length: Math.max(0, toMinute - fromMinute + 1) }, (_, i) => fromMinute + i);
    const replies = await Promise.all(minutes.map((m) => this.send(["HGETALL", `${this.p}minute:${m}`])));
    const out: MinuteCounts[] = [];
    replies.forEach((reply, i) => {
      const fields = new Map<string, number>();
      for (const [field, value] of replyHash(reply, "census minute")) if (isGeneration(field.slice(0, field.indexOf("|")))) fields.set(field, Number(value));
      if (fields.size > 0) out.push({ minute: minutes[i] ?? 0, counts: sumByGeneration(fields) });
    });
    return out;
  }

  private subjectKey(generation: Generation, kind: SubjectKind, id: string): string {
    return `${this.p}subject:${generation}:${kind}:${id}`;
  }
}

function subjectOf(generation: Generation, kind: SubjectKind, id: string, lastSeen: number, fields: Map<string, string>): Subject {
  const kinds: ClientKind[] = [];
  const versions: Array<[string, number]> = [];
  for (const [field, value] of fields) {
    if (field.startsWith("k:")) kinds.push(field.slice(2) as ClientKind);
    else if (field.startsWith("v:")) versions.push([field.slice(2), Number(value)]);
  }
  return {
    kind,
    id,
    generation,
    firstSeen: Number(fields.get("first") ?? lastSeen),
    lastSeen,
    clientKinds: kinds.sort(),
    clientVersions: versions.sort((a, b) => b[1] - a[1]).map(([v]) => v),
  };
}
