import { compareTerminals } from "./records.js";
import {
  TERMINAL_ATTACH,
  TERMINAL_CREATE,
  TERMINAL_DELETE,
  TERMINAL_DETACH,
  TERMINAL_FRAME,
  LIST_INDEXED,
  TERMINAL_UPDATE,
  replyArray,
  replyHash,
  replyNumber,
  replyString,
  type RedisCommandClient,
  type Reply,
  type ScriptRunner,
} from "./redis-scripts.js";
import type { TerminalRecord, TerminalStore } from "./types.js";

/*
 * Layout (P = prefix):
 *   P terminal:{id}                HASH  the record. Strings as they are; booleans "1"/"0"; numbers in
 *                                        decimal; a null field (cwd, viewer) is an absent field; plus
 *                                        bufferBytes, the byte total of the buffer.
 *   P terminal:{id}:buffer         LIST  frames (JSON text, never decoded) kept while no viewer is attached,
 *                                        oldest first; it shares the record's TTL.
 *   P runner:{runnerId}:terminals  SET   ids of the runner's terminals (stale members dropped when listed);
 *                                        its TTL outlasts every member's (none if a member has none).
 */

type Patch = Partial<Pick<TerminalRecord, "spawned" | "exited" | "cols" | "rows">>;

const set = (v: string): string => `s${v}`;
const nullable = (v: string | null): string => (v === null ? "d" : set(v));
const bool = (v: boolean): string => set(v ? "1" : "0");
const num = (v: number): string => set(String(v));

function patchFields(patch: Patch): string[] {
  const out: string[] = [];
  if (patch.spawned !== undefined) out.push("spawned", bool(patch.spawned));
  if (patch.exited !== undefined) out.push("exited", bool(patch.exited));
  if (patch.cols !== undefined) out.push("cols", num(patch.cols));
  if (patch.rows !== undefined) out.push("rows", num(patch.rows));
  return out;
}

function decodeTerminal(fields: Map<string, string>): TerminalRecord {
  const need = (f: string): string => {
    const v = fields.get(f);
    if (v === undefined) throw new Error(`Corrupt terminal record: no ${f}`);
    return v;
  };
  return {
    terminalId: need("terminalId"),
    runnerId: need("runnerId"),
    userId: need("userId"),
    cwd: fields.get("cwd") ?? null,
    cols: Number(need("cols")),
    rows: Number(need("rows")),
    spawned: need("spawned") === "1",
    exited: need("exited") === "1",
    viewer: fields.get("viewer") ?? null,
    createdAt: need("createdAt"),
  };
}

export class RedisTerminalStore implements TerminalStore {
  constructor(
    private readonly client: RedisCommandClient,
    private readonly scripts: ScriptRunner,
    private readonly prefix: string,
  ) {}

  private recordKey(terminalId: string): string {
    return `${this.prefix}terminal:${terminalId}`;
  }

  /** record, buffer: the KEYS of the per-terminal scripts. */
  private terminalKeys(terminalId: string): string[] {
    const rec = this.recordKey(terminalId);
    return [rec, `${rec}:buffer`];
  }

  private runnerKey(runnerId: string): string {
    return `${this.prefix}runner:${runnerId}:terminals`;
  }

  async create(record: TerminalRecord, ttlMs: number): Promise<void> {
    await this.scripts.run(
      TERMINAL_CREATE,
      [...this.terminalKeys(record.terminalId), this.runnerKey(record.runnerId)],
      [
        this.prefix,
        record.terminalId,
        String(Math.ceil(ttlMs)),
        "terminalId", set(record.terminalId),
        "runnerId", set(record.runnerId),
        "userId", set(record.userId),
        "cwd", nullable(record.cwd),
        "cols", num(record.cols),
        "rows", num(record.rows),
        "spawned", bool(record.spawned),
        "exited", bool(record.exited),
        "viewer", nullable(record.viewer),
        "createdAt", set(record.createdAt),
      ],
    );
  }

  async get(terminalId: string): Promise<TerminalRecord | null> {
    const fields = replyHash(await this.client.sendCommand<Reply>(["HGETALL", this.recordKey(terminalId)]), "terminal");
    return fields.size === 0 ? null : decodeTerminal(fields);
  }

  async update(terminalId: string, patch: Patch, ttlMs?: number | null): Promise<TerminalRecord | null> {
    const mode = ttlMs === undefined ? "keep" : ttlMs === null ? "persist" : String(Math.ceil(ttlMs));
    const reply = await this.scripts.run(TERMINAL_UPDATE, this.terminalKeys(terminalId), [
      this.prefix,
      terminalId,
      mode,
      ...patchFields(patch),
    ]);
    if (reply === null || reply === undefined) return null;
    return decodeTerminal(replyHash(reply, "terminal update"));
  }

  async delete(terminalId: string): Promise<void> {
    await this.scripts.run(TERMINAL_DELETE, this.terminalKeys(terminalId), [this.prefix, terminalId]);
  }

  async listByRunner(runnerId: string): Promise<TerminalRecord[]> {
    const reply = replyArray(await this.scripts.run(LIST_INDEXED, [this.runnerKey(runnerId)], [`${this.prefix}terminal:`, "runnerId", runnerId]), "terminals");
    return reply.map((r) => decodeTerminal(replyHash(r, "terminals"))).sort(compareTerminals);
  }

  async frame(terminalId: string, frameJson: string, maxBytes: number): Promise<{ live: boolean; known: boolean }> {
    const [live, known] = replyArray(
      await this.scripts.run(TERMINAL_FRAME, this.terminalKeys(terminalId), [frameJson, String(Math.floor(maxBytes))]),
      "frame",
    );
    return { live: replyNumber(live, "frame") === 1, known: replyNumber(known, "frame") === 1 };
  }

  async attach(terminalId: string, viewer: string): Promise<{ record: TerminalRecord; buffered: string[] } | null> {
    const reply = await this.scripts.run(TERMINAL_ATTACH, this.terminalKeys(terminalId), [viewer]);
    if (reply === null || reply === undefined) return null;
    const [rec, buffered] = replyArray(reply, "attach");
    return {
      record: decodeTerminal(replyHash(rec, "attach")),
      buffered: replyArray(buffered, "attach").map((f) => replyString(f, "attach")),
    };
  }

  async detach(terminalId: string, viewer: string): Promise<TerminalRecord | null> {
    const reply = await this.scripts.run(TERMINAL_DETACH, [this.recordKey(terminalId)], [viewer]);
    if (reply === null || reply === undefined) return null;
    return decodeTerminal(replyHash(reply, "detach"));
  }
}
