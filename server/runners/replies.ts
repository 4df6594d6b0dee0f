import type { RunnerReply } from "../../protocol/index.js";
import type { RelayContext } from "../sessions/context.js";

/** Hands a runner's reply to the waiting request, here or on another node. */
export function deliverReply(ctx: RelayContext, key: string, runnerId: string, reply: RunnerReply): void {
  if (ctx.requests.settle(key, runnerId, reply)) return;
  // Only a cluster has other nodes to tell (the in-memory adapter warns on serverSideEmit).
  if (ctx.config.redisUrl) ctx.runner.serverSideEmit("runner_reply", { key, runnerId, reply });
}

/** Rejects, on every node, what still waits on a runner that is gone for good. */
export function announceRunnerGone(ctx: RelayContext, runnerId: string): void {
  ctx.requests.runnerGone(runnerId);
  if (ctx.config.redisUrl) ctx.runner.serverSideEmit("runner_gone", { runnerId });
}

/** Listens for replies and departures routed from other nodes. */
export function listenForRunnerReplies(ctx: RelayContext): void {
  ctx.runner.on("runner_reply", ({ key, runnerId, reply }) => void ctx.requests.settle(key, runnerId, reply));
  ctx.runner.on("runner_gone", ({ runnerId }) => ctx.requests.runnerGone(runnerId));
}

/** Correlation ids of runner requests: unguessable, and namespaced so a spawn and a skill never collide. */
export const replyKeys = {
  spawn: (sessionId: string) => `spawn:${sessionId}`,
  skill: (requestId: string) => `skill:${requestId}`,
} as const;
