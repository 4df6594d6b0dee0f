import { compareTerminals } from "./records.js";
import type { TerminalRecord, TerminalStore } from "./types.js";

interface Entry {
  record: TerminalRecord;
  /** Frames kept while no viewer is attached, oldest first. */
  buffer: string[];
  /** Sum of the buffered frames' UTF-8 byte lengths. */
  bufferBytes: number;
  /** Epoch ms after which the terminal is forgotten (the Redis key TTL); null: kept until deleted. */
  dropAt: number | null;
}

/** In-memory TerminalStore for the embedded single-node mode. Same contract as the Redis one. */
export class MemoryTerminalStore implements TerminalStore {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly clock: () => number = Date.now) {}

  private live(terminalId: string): Entry | undefined {
    const entry = this.entries.get(terminalId);
    if (entry && entry.dropAt !== null && entry.dropAt <= this.clock()) {
      this.entries.delete(terminalId);
      return undefined;
    }
    return entry;
  }

  async create(record: TerminalRecord, ttlMs: number): Promise<void> {
    this.entries.set(record.terminalId, { record: { ...record }, buffer: [], bufferBytes: 0, dropAt: this.clock() + ttlMs });
  }

  async get(terminalId: string): Promise<TerminalRecord | null> {
    const entry = this.live(terminalId);
    return entry ? { ...entry.record } : null;
  }

  async update(
    terminalId: string,
    patch: Partial<Pick<TerminalRecord, "spawned" | "exited" | "cols" | "rows">>,
    ttlMs?: number | null,
  ): Promise<TerminalRecord | null> {
    const entry = this.live(terminalId);
    if (!entry) return null;
    const { spawned, exited, cols, rows } = patch;
    if (spawned !== undefined) entry.record.spawned = spawned;
    if (exited !== undefined) entry.record.exited = exited;
    if (cols !== undefined) entry.record.cols = cols;
    if (rows !== undefined) entry.record.rows = rows;
    if (ttlMs === null) entry.dropAt = null;
    else if (ttlMs !== undefined) entry.dropAt = this.clock() + ttlMs;
    if (entry.dropAt !== null && entry.dropAt <= this.clock()) {
      this.entries.delete(terminalId);
      return null;
    }
    return { ...entry.record };
  }

  async delete(terminalId: string): Promise<void> {
    this.entries.delete(terminalId);
  }

  async listByRunner(runnerId: string): Promise<TerminalRecord[]> {
    const out: TerminalRecord[] = [];
    for (const id of [...this.entries.keys()]) {
      const entry = this.live(id);
      if (entry?.record.runnerId === runnerId) out.push({ ...entry.record });
    }
    return out.sort(compareTerminals);
  }

  async frame(terminalId: string, frameJson: string, maxBytes: number): Promise<{ live: boolean; known: boolean }> {
    const entry = this.live(terminalId);
    if (!entry) return { live: false, known: false };
    if (entry.record.viewer !== null) return { live: true, known: true };
    entry.buffer.push(frameJson);
    entry.bufferBytes += Buffer.byteLength(frameJson, "utf8");
    while (entry.bufferBytes > maxBytes) {
      const oldest = entry.buffer.shift();
      if (oldest === undefined) {
        entry.bufferBytes = 0;
        break;
      }
      entry.bufferBytes -= Buffer.byteLength(oldest, "utf8");
    }
    return { live: false, known: true };
  }

  async attach(terminalId: string, viewer: string): Promise<{ record: TerminalRecord; buffered: string[] } | null> {
    const entry = this.live(terminalId);
    if (!entry) return null;
    entry.record.viewer = viewer;
    const buffered = entry.buffer;
    entry.buffer = [];
    entry.bufferBytes = 0;
    return { record: { ...entry.record }, buffered };
  }

  async detach(terminalId: string, viewer: string): Promise<TerminalRecord | null> {
    const entry = this.live(terminalId);
    if (!entry) return null;
    if (entry.record.viewer === viewer) entry.record.viewer = null;
    return { ...entry.record };
  }
}
