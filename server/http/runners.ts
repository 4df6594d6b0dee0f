import { randomUUID } from "node:crypto";
import { Hono, type Context } from "hono";
import { z } from "zod";
import { rooms } from "../io/typed.js";
import { oversizedField } from "../limits.js";
import { isUnderRoots } from "../runners/normalize.js";
import { replyKeys } from "../runners/replies.js";
import type { PendingOutcome } from "../runners/pending.js";
import type { RunnerReply } from "../../protocol/index.js";
import type { RelayContext } from "../sessions/context.js";
import type { Identity, RunnerRecord } from "../state/types.js";
import { caller, jsonBody } from "./identity.js";

const SpawnBody = z.object({ runnerId: z.string().min(1), cwd: z.string().optional() });
const RestartBody = z.object({ runnerId: z.string().min(1) });
const TerminalBody = z.object({
  runnerId: z.string().min(1),
  cwd: z.string().optional(),
  cols: z.number().int().positive().max(1000).optional(),
  rows: z.number().int().positive().max(1000).optional(),
});
const SkillCreateBody = z.object({ name: z.string(), content: z.string() });
const SkillUpdateBody = z.object({ content: z.string() });

/** Base-36 random + time, as the legacy relay built skill request ids (legacy 4.5). */
function requestId(): string {
  return `${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;
}

/**
 * The runner control API (legacy 4.4, 4.5 and 5.1, with the legacy status codes), served from any node:
 * commands reach the runner through its room, replies come back to this node whichever node the runner
 * is on.
 */
export function mountRunnerRoutes(app: Hono, ctx: RelayContext): void {
  type Env = { Variables: { identity: Identity } };
  type Resolved = { ok: true; identity: Identity; runner: RunnerRecord } | { ok: false; response: Response };
  const api = new Hono<Env>();

  // Who calls comes first: an unauthenticated request learns nothing, not even that its body is wrong.
  api.use("*", async (c, next) => {
    const who = await caller(ctx, c);
    if (!who.ok) return c.json({ error: who.error }, who.status);
    c.set("identity", who.identity);
    await next();
  });

  /** The runner the caller asked for, if it is theirs: 403/404 otherwise. */
  const ownRunner = async (c: Context<Env>, runnerId: string): Promise<Resolved> => {
    const identity = c.get("identity");
    const runner = await ctx.state.runners.get(runnerId);
    if (!runner) return { ok: false, response: c.json({ error: "Runner not found" }, 404) };
    if (runner.userId === "") return { ok: false, response: c.json({ error: "Runner is not associated with a user" }, 403) };
    if (runner.userId !== identity.userId) return { ok: false, response: c.json({ error: "Forbidden" }, 403) };
    return { ok: true, identity, runner };
  };

  const parse = async <S extends z.ZodType>(c: Context<Env>, schema: S): Promise<z.output<S> | Response> => {
    const body = await jsonBody(c);
    const checked = schema.safeParse(body ?? undefined);
    if (!checked.success) return c.json({ error: `Invalid request: ${checked.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ")}` }, 400);
    // A working directory is a session field: the same limit as on register.
    const tooLong = oversizedField({ cwd: (checked.data as { cwd?: unknown }).cwd }, ctx.config.limits.fieldBytes);
    if (tooLong) return c.json({ error: `Invalid request: ${tooLong}` }, 400);
    return checked.data;
  };

  api.post("/spawn", async (c) => {
    const body = await parse(c, SpawnBody);
    if (body instanceof Response) return body;
    const own = await ownRunner(c, body.runnerId);
    if (!own.ok) return own.response;
    const cwd = body.cwd?.trim() || undefined;
    if (cwd !== undefined && !isUnderRoots(cwd, own.runner.roots)) return c.json({ error: `cwd is outside the runner's workspace roots: ${cwd}` }, 400);
    const sessionId = randomUUID();
    const link = { runnerId: own.runner.runnerId, runnerName: own.runner.name };
    await ctx.state.sessions.setPendingLink(sessionId, link, ctx.config.pendingLinkTtlMs);
    await ctx.state.runners.addSession(own.runner.runnerId, sessionId);
    const waiting = ctx.requests.wait(replyKeys.spawn(sessionId), own.runner.runnerId, ctx.config.spawnTimeoutMs);
    ctx.runner.to(rooms.runner(own.runner.runnerId)).emit("new_session", { sessionId, ...(cwd !== undefined ? { cwd } : {}) });
    const outcome = await waiting;
    if (outcome.kind === "reply" && !outcome.reply.ok) {
      await ctx.state.runners.removeSession(own.runner.runnerId, sessionId);
      return c.json({ error: outcome.reply.message ?? "Runner spawn failed" }, 400);
    }
    if (outcome.kind === "gone") return c.json({ error: "Runner disconnected" }, 502);
    ctx.log.info({ runnerId: own.runner.runnerId, sessionId, pending: outcome.kind === "timeout" }, "session spawned");
    return c.json({ ok: true, runnerId: own.runner.runnerId, sessionId, pending: outcome.kind === "timeout" });
  });

  api.post("/restart", async (c) => {
    const body = await parse(c, RestartBody);
    if (body instanceof Response) return body;
    const own = await ownRunner(c, body.runnerId);
    if (!own.ok) return own.response;
    ctx.runner.to(rooms.runner(own.runner.runnerId)).emit("restart", {});
    return c.json({ ok: true });
  });

  api.post("/terminal", async (c) => {
    const body = await parse(c, TerminalBody);
    if (body instanceof Response) return body;
    const own = await ownRunner(c, body.runnerId);
    if (!own.ok) return own.response;
    const cwd = body.cwd?.trim() || null;
    if (cwd !== null && !isUnderRoots(cwd, own.runner.roots)) return c.json({ error: `cwd is outside the runner's workspace roots: ${cwd}` }, 400);
    const terminalId = randomUUID();
    await ctx.state.terminals.create(
      {
        terminalId,
        runnerId: own.runner.runnerId,
        userId: own.identity.userId,
        cwd,
        cols: body.cols ?? 80,
        rows: body.rows ?? 24,
        spawned: false,
        exited: false,
        viewer: null,
        createdAt: new Date(ctx.clock()).toISOString(),
      },
      60_000,
    );
    return c.json({ ok: true, terminalId, runnerId: own.runner.runnerId });
  });

  api.get("/", async (c) => {
    const runners = await ctx.state.runners.listByUser(c.get("identity").userId);
    return c.json({
      runners: runners.map((r) => ({ runnerId: r.runnerId, name: r.name, roots: r.roots, sessionCount: r.sessionIds.length, skills: r.skills })),
    });
  });

  // Skills (legacy 4.5): the list is the runner's last reported one; the rest is a round trip.
  api.get("/:id/skills", async (c) => {
    const own = await ownRunner(c, c.req.param("id"));
    if (!own.ok) return own.response;
    return c.json({ skills: own.runner.skills });
  });

  const skillCall = async (
    runner: RunnerRecord,
    command: "get_skill" | "create_skill" | "update_skill" | "delete_skill",
    args: { name: string; content?: string },
  ): Promise<PendingOutcome> => {
    const id = requestId();
    const waiting = ctx.requests.wait(replyKeys.skill(id), runner.runnerId, ctx.config.skillTimeoutMs);
    const to = ctx.runner.to(rooms.runner(runner.runnerId));
    if (command === "get_skill" || command === "delete_skill") to.emit(command, { name: args.name, requestId: id });
    else to.emit(command, { name: args.name, content: args.content ?? "", requestId: id });
    return waiting;
  };
  type SkillReply = Extract<RunnerReply, { kind: "skills" }>;
  /** The runner's successful skill reply, or the legacy status for what went wrong. */
  const skillReply = (c: Context<Env>, outcome: PendingOutcome, refusedStatus: 400 | 404): { reply: SkillReply } | { response: Response } => {
    if (outcome.kind === "timeout") return { response: c.json({ error: "Skill command timed out" }, 502) };
    if (outcome.kind === "gone") return { response: c.json({ error: "Runner disconnected" }, 502) };
    const reply = outcome.reply;
    if (reply.kind !== "skills") return { response: c.json({ error: "Unexpected runner reply" }, 502) };
    if (!reply.ok) return { response: c.json({ error: reply.message ?? "Skill command failed" }, refusedStatus) };
    return { reply };
  };

  api.get("/:id/skills/:name", async (c) => {
    const own = await ownRunner(c, c.req.param("id"));
    if (!own.ok) return own.response;
    const result = skillReply(c, await skillCall(own.runner, "get_skill", { name: c.req.param("name") }), 404);
    if ("response" in result) return result.response;
    return c.json({ name: result.reply.name ?? c.req.param("name"), content: result.reply.content ?? "" });
  });

  api.post("/:id/skills", async (c) => {
    const body = await parse(c, SkillCreateBody);
    if (body instanceof Response) return body;
    const name = body.name.trim();
    if (!name) return c.json({ error: "Skill name is required" }, 400);
    const own = await ownRunner(c, c.req.param("id"));
    if (!own.ok) return own.response;
    const result = skillReply(c, await skillCall(own.runner, "create_skill", { name, content: body.content }), 400);
    if ("response" in result) return result.response;
    return c.json({ ok: true, skills: result.reply.skills ?? [] });
  });

  api.put("/:id/skills/:name", async (c) => {
    const body = await parse(c, SkillUpdateBody);
    if (body instanceof Response) return body;
    const own = await ownRunner(c, c.req.param("id"));
    if (!own.ok) return own.response;
    const result = skillReply(c, await skillCall(own.runner, "update_skill", { name: c.req.param("name"), content: body.content }), 400);
    if ("response" in result) return result.response;
    return c.json({ ok: true, skills: result.reply.skills ?? [] });
  });

  api.delete("/:id/skills/:name", async (c) => {
    const own = await ownRunner(c, c.req.param("id"));
    if (!own.ok) return own.response;
    const result = skillReply(c, await skillCall(own.runner, "delete_skill", { name: c.req.param("name") }), 404);
    if ("response" in result) return result.response;
    return c.json({ ok: true, skills: result.reply.skills ?? [] });
  });

  app.route("/api/runners", api);
}
