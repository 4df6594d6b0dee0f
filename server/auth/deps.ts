import type { RelayContext } from "../sessions/context.js";
import type { AuthDeps } from "./authenticate.js";

/** What authentication reads from a relay's context. */
export function authDeps(ctx: Pick<RelayContext, "state" | "log" | "config">): AuthDeps {
  return { state: ctx.state, log: ctx.log, trustedOrigins: ctx.config.trustedOrigins, runnerToken: ctx.config.runnerToken };
}
