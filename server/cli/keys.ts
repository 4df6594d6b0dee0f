import type { RelayConfig } from "../config.js";
import { redisClient } from "../adapters.js";
import { createLogger } from "../logger.js";
import { checkDataDir } from "../state/data-dir.js";
import { FileApiKeyStore } from "../state/file-keys.js";
import { createRedisState } from "../state/redis.js";
import type { ApiKeyStore } from "../state/types.js";

export type KeysRequest =
  | { op: "create"; user: string; name?: string | undefined; admin?: boolean | undefined; json?: boolean | undefined }
  | { op: "list"; user?: string | undefined; json?: boolean | undefined }
  | { op: "revoke"; id: string };

/** `pizzapi-relay keys …` against the same store the server reads: Redis in a cluster, else the key file. */
export async function runKeysCommand(config: RelayConfig, req: KeysRequest): Promise<void> {
  const log = createLogger({ level: "warn", nodeId: "cli" });
  const client = config.redisUrl ? redisClient(config.redisUrl, log, "cli") : null;
  let store: ApiKeyStore;
  if (client) {
    await client.connect();
    store = createRedisState({ client, prefix: config.redisPrefix }).keys;
  } else {
    // Listing only reads; creating and revoking write the key file.
    if (req.op !== "list") await checkDataDir(config.dataDir);
    store = new FileApiKeyStore(config.dataDir);
  }
  try {
    await run(store, req);
  } finally {
    await client?.close();
  }
}

async function run(store: ApiKeyStore, req: KeysRequest): Promise<void> {
  const out = (line: string): void => void process.stdout.write(`${line}\n`);
  switch (req.op) {
    case "create": {
      const userId = req.user.trim();
      if (!userId) throw new Error("--user must not be empty");
      const userName = req.name?.trim() || userId;
      const { key, meta } = await store.create({ userId, userName, admin: req.admin === true });
      if (req.json) out(JSON.stringify({ key, userId, userName, id: meta.id, admin: meta.admin }));
      else {
        out(`${meta.admin ? "Admin API key" : "API key"} for ${userName} (${userId}), id ${meta.id}:`);
        out(key);
        out("It is shown once: store it now.");
      }
      return;
    }
    case "list": {
      const keys = await store.list(req.user);
      if (req.json) out(JSON.stringify(keys));
      else if (keys.length === 0) out("no keys");
      else for (const k of keys) out(`${k.id}  ${k.userId}  ${k.userName}  ${k.createdAt}${k.admin ? "  admin" : ""}`);
      return;
    }
    case "revoke": {
      if (!(await store.revoke(req.id))) throw new Error(`no key with id ${req.id}`);
      out(`revoked ${req.id}`);
      return;
    }
  }
}
