import { rooms } from "../io/typed.js";
import type { RelayContext } from "./context.js";
import { endSession } from "./lifecycle.js";

/**
 * Ephemeral expiry (legacy 2.9): every `ephemeralSweepMs`, each live ephemeral session whose expiry
 * passed gets `session_expired` on its CLI connection, which is then closed, and the session ends with
 * "Session expired". Every node sweeps; the generation-checked end makes exactly one of them win, and
 * only the winner notifies. A node killed mid-session leaves its sessions to this sweep.
 */
export function startExpirySweep(ctx: RelayContext): { stop(): void; sweep(): Promise<number> } {
  const sweep = async (): Promise<number> => {
    const expired = await ctx.state.sessions.listExpired(ctx.clock());
    let ended = 0;
    for (const { sessionId, generation } of expired) {
      const record = await endSession(ctx, sessionId, generation, "Session expired");
      if (!record) continue;
      ended += 1;
      const cli = ctx.relay.to(rooms.cli(sessionId));
      cli.emit("session_expired", { sessionId });
      ctx.relay.in(rooms.cli(sessionId)).disconnectSockets();
    }
    return ended;
  };
  const timer = setInterval(() => {
    sweep().catch((err: unknown) => ctx.log.error({ err }, "expiry sweep failed"));
  }, ctx.config.ephemeralSweepMs);
  timer.unref();
  return { stop: () => clearInterval(timer), sweep };
}
