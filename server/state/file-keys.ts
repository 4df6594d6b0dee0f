import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { hashSecret, randomHex } from "../auth/secrets.js";
import { mintApiKey } from "./records.js";
import type { ApiKeyMeta, ApiKeyStore, NewApiKey } from "./types.js";

interface StoredKey extends ApiKeyMeta {
  hash: string;
}

interface KeyFile {
  version: 1;
  keys: StoredKey[];
}

/**
 * API keys of the embedded mode: a small JSON file under PIZZAPI_DATA_DIR that the `keys` command and a
 * running server share. Only SHA-256 hashes are stored; the file is written atomically (rename) with
 * mode 0600, and re-read whenever its mtime changes, so a key minted by the CLI works at once.
 */
export class FileApiKeyStore implements ApiKeyStore {
  private cache: { mtimeMs: number; data: KeyFile } | null = null;
  private writing: Promise<unknown> = Promise.resolve();
  readonly path: string;

  constructor(dataDir: string) {
    this.path = join(dataDir, "api-keys.json");
  }

  private async load(): Promise<KeyFile> {
    let mtimeMs: number;
    try {
      mtimeMs = (await stat(this.path)).mtimeMs;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return { version: 1, keys: [] };
      throw err;
    }
    if (this.cache && this.cache.mtimeMs === mtimeMs) return this.cache.data;
    const parsed = JSON.parse(await readFile(this.path, "utf8")) as KeyFile;
    if (parsed.version !== 1 || !Array.isArray(parsed.keys)) throw new Error(`Unrecognised key file ${this.path}`);
    this.cache = { mtimeMs, data: parsed };
    return parsed;
  }

  /** Serialises read-modify-write cycles of this process. */
  private mutate<T>(fn: (data: KeyFile) => T): Promise<T> {
    const run = this.writing.then(async () => {
      const data = await this.load();
      const result = fn(data);
      await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
      const tmp = `${this.path}.${process.pid}.${randomHex(4)}.tmp`;
      await writeFile(tmp, JSON.stringify(data, null, 2), { mode: 0o600 });
      await rename(tmp, this.path);
      this.cache = null;
      return result;
    });
    this.writing = run.catch(() => undefined);
    return run;
  }

  async create(input: NewApiKey): Promise<{ key: string; meta: ApiKeyMeta }> {
    const { key, hash, meta } = mintApiKey(input);
    await this.mutate((data) => data.keys.push({ ...meta, hash }));
    return { key, meta };
  }

  async verify(key: string): Promise<ApiKeyMeta | null> {
    const hash = hashSecret(key);
    const found = (await this.load()).keys.find((k) => k.hash === hash);
    return found ? strip(found) : null;
  }

  async list(userId?: string): Promise<ApiKeyMeta[]> {
    return (await this.load()).keys.filter((k) => userId === undefined || k.userId === userId).map(strip);
  }

  async exists(id: string): Promise<boolean> {
    return (await this.load()).keys.some((k) => k.id === id);
  }

  async existing(ids: readonly string[]): Promise<Set<string>> {
    const present = new Set((await this.load()).keys.map((k) => k.id));
    return new Set(ids.filter((id) => present.has(id)));
  }

  async revoke(id: string): Promise<boolean> {
    return this.mutate((data) => {
      const before = data.keys.length;
      data.keys = data.keys.filter((k) => k.id !== id);
      return data.keys.length !== before;
    });
  }
}

/** Keys written before the admin scope existed have no `admin` field: ordinary keys. */
function strip({ hash: _hash, ...meta }: StoredKey): ApiKeyMeta {
  return { ...meta, admin: meta.admin === true };
}
