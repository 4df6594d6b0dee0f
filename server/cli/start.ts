import type { RelayConfig } from "../config.js";
import { createRelayServer, type RelayPlugin } from "../relay-server.js";
import { checkDataDir } from "../state/data-dir.js";
import { explainListenError } from "./listen-error.js";

/** `pizzapi-relay start`: one node until SIGTERM/SIGINT, then a graceful stop. */
export async function runStart(config: RelayConfig, plugins: RelayPlugin[] = []): Promise<void> {
  // Embedded mode keeps its API keys there; in a cluster they are in Redis.
  if (!config.redisUrl) await checkDataDir(config.dataDir);
  const relay = await createRelayServer(config, { plugins });
  process.on("unhandledRejection", (err) => relay.log.error({ err }, "unhandled rejection"));
  try {
    await relay.start();
  } catch (err) {
    // The command ends the process on this error (server/cli/main.ts): nothing is left to stop.
    throw explainListenError(err, config);
  }
  let signalled = false;
  const shutdown = (signal: string): void => {
    if (signalled) return;
    signalled = true;
    relay.log.info({ signal }, "shutdown requested");
    // The bound on a graceful stop: the drain delay, then the grace for closing, then a margin.
    const drainDelayMs = signal === "SIGINT" ? 0 : config.drainDelayMs;
    const force = setTimeout(() => process.exit(1), drainDelayMs + config.shutdownGraceMs + 5_000);
    force.unref();
    relay.stop({ drainDelayMs }).then(
      () => process.exit(0),
      (err: unknown) => {
        relay.log.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}
