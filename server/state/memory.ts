import { hashSecret, randomHex } from "../auth/secrets.js";
import { FileApiKeyStore } from "./file-keys.js";
import { MemoryPushStore } from "./memory-push.js";
import { MemoryRunnerStore } from "./memory-runners.js";
import { MemorySessionStore } from "./memory-sessions.js";
import { MemoryTerminalStore } from "./memory-terminals.js";
import type { ApiKeyStore, LoginIdentity, LoginStore, SharedState } from "./types.js";

/** Browser logins of the embedded mode: in memory, hashed, with a TTL. */
export class MemoryLoginStore implements LoginStore {
  private readonly logins = new Map<string, { identity: LoginIdentity; expiresAt: number }>();

  constructor(private readonly clock: () => number = Date.now) {}

  async create(identity: LoginIdentity, ttlMs: number): Promise<string> {
    const token = randomHex(32);
    this.logins.set(hashSecret(token), { identity: { ...identity }, expiresAt: this.clock() + ttlMs });
    return token;
  }

  async verify(token: string): Promise<LoginIdentity | null> {
    const hash = hashSecret(token);
    const found = this.logins.get(hash);
    if (!found) return null;
    if (found.expiresAt <= this.clock()) {
      this.logins.delete(hash);
      return null;
    }
    return { ...found.identity };
  }

  async delete(token: string): Promise<void> {
    this.logins.delete(hashSecret(token));
  }
}

/**
 * The embedded single-node state: sessions, logins, runners, terminals and push subscriptions in
 * memory, API keys in a file under dataDir.
 */
export function createMemoryState(options: { dataDir: string; keys?: ApiKeyStore; clock?: () => number }): SharedState {
  const clock = options.clock ?? Date.now;
  return {
    kind: "memory",
    keys: options.keys ?? new FileApiKeyStore(options.dataDir),
    logins: new MemoryLoginStore(clock),
    sessions: new MemorySessionStore(clock),
    runners: new MemoryRunnerStore(clock),
    terminals: new MemoryTerminalStore(clock),
    push: new MemoryPushStore(),
    ping: async () => undefined,
    close: async () => undefined,
  };
}
