import { errorBody, GENERATION_SPECS, type DisconnectReason, type Registered } from "../../protocol/index.js";
import { RequestError } from "../io/handlers.js";
import { checkFieldSizes } from "../limits.js";
import { randomHex, newId } from "../auth/secrets.js";
import { rooms, type TypedSocket } from "../io/typed.js";
import type { SessionRecord } from "../state/types.js";
import { attachConnection, detachConnection } from "./connection.js";
import { endedTtl, expiryFrom, sessionTtl, type RelayContext } from "./context.js";
import { hubAdded, hubRemoved } from "./hub-feed.js";
import { normalizeSessionName } from "./normalize.js";
import { cliPresence } from "./presence.js";

export interface RegisterInput {
  sessionId?: string | undefined;
  cwd?: string | undefined;
  ephemeral?: boolean | undefined;
  collabMode?: boolean | undefined;
  sessionName?: string | null | undefined;
  streamId?: string | undefined;
}

/**
 * `register` (legacy 2.3, with the section 14 fixes): a live id of the same user is a reconnect (same
 * session, next generation, viewers kept); an id owned by another user is never taken over, the
 * registrant gets a fresh id instead.
 */
export async function registerSession(ctx: RelayContext, socket: TypedSocket<"/relay">, input: RegisterInput): Promise<Registered> {
  const { limits } = ctx.config;
  checkFieldSizes({ sessionId: input.sessionId, cwd: input.cwd, sessionName: input.sessionName }, limits.fieldBytes);
  await checkSessionCount(ctx, socket.data.userId, input.sessionId?.trim());
  const now = ctx.clock();
  const isEphemeral = input.ephemeral !== false;
  const previous = socket.data.sessionId;
  const claim = await ctx.state.sessions.claim({
    userId: socket.data.userId,
    userName: socket.data.userName,
    sessionId: input.sessionId?.trim(),
    cwd: typeof input.cwd === "string" ? input.cwd : "",
    sessionName: normalizeSessionName(input.sessionName),
    isEphemeral,
    collabMode: input.collabMode !== false,
    now,
    expiresAt: expiryFrom(ctx.config, isEphemeral, now),
    ttlMs: sessionTtl(ctx.config, isEphemeral),
    shareUrlFor: (id) => `${ctx.config.baseUrl}/session/${id}`,
    newId,
  });
  const { record, outcome } = claim;
  // A second register on one socket for another id: the first session is this socket's to end.
  if (previous && previous !== record.sessionId) {
    await endSession(ctx, previous, socket.data.generation, "Session ended");
    for (const room of cliRooms(socket, previous)) socket.leave(room);
  }
  if (outcome === "reconnected") {
    // The replaced connection (on any node) stops receiving viewer traffic; its late frames are refused
    // by the generation check and its late disconnect ends nothing. `except` matters: cluster adapters
    // apply the leave locally only after publishing it, i.e. after this socket's join below.
    ctx.relay.in(rooms.cli(record.sessionId)).except(socket.id).socketsLeave([rooms.cli(record.sessionId), rooms.cliAcked(record.sessionId)]);
  }
  socket.join(cliRooms(socket, record.sessionId));
  const token = randomHex(32);
  // Before the data changes: acks still waiting belong to the registration being replaced.
  ctx.acks.forget(socket);
  socket.data.sessionId = record.sessionId;
  socket.data.token = token;
  socket.data.generation = record.generation;
  socket.data.lastAckedSeq = 0;
  socket.data.ackLimit = null;
  socket.data.streamId = input.streamId ?? null;
  socket.data.lastStreamSeq = null;
  attachConnection(socket, record, ctx.clock);
  if (outcome !== "reconnected") hubAdded(ctx, record);
  if (outcome === "created") restartViewers(ctx, record);
  ctx.log.info(
    { sessionId: record.sessionId, userId: record.userId, outcome, generation: record.generation, transport: socket.conn.transport.name },
    "session registered",
  );
  return { sessionId: record.sessionId, token, shareUrl: record.shareUrl, isEphemeral: record.isEphemeral, collabMode: record.collabMode };
}

/**
 * A user's live sessions are capped (PIZZAPI_MAX_SESSIONS_PER_USER): a register of a new session beyond
 * is refused `limit_exceeded`; registering one of the user's live sessions again (a reconnect) always
 * passes. Checked before the claim, on whatever node: concurrent registers may pass it together, so the
 * cap can be overshot by the few that race (it bounds a flood, not an exact count). A count that stops
 * at the cap, not a list of the user's sessions: a register costs the same with 10 or 10,000 of them.
 */
async function checkSessionCount(ctx: RelayContext, userId: string, sessionId: string | undefined): Promise<void> {
  const cap = ctx.config.limits.sessionsPerUser;
  if ((await ctx.state.sessions.countLive(userId, cap)) < cap) return;
  if (sessionId) {
    const record = await ctx.state.sessions.get(sessionId);
    if (record?.live && record.userId === userId) return;
  }
  throw new RequestError(errorBody("limit_exceeded", `Too many live sessions: ${ctx.config.limits.sessionsPerUser} (PIZZAPI_MAX_SESSIONS_PER_USER)`));
}

/**
 * Ends a session iff `generation` is still the current one (legacy `endSharedSession`): viewers get
 * `disconnected` and are closed, the hub gets `session_removed`. Returns the ended record, or null when
 * a newer registration owns the session (nothing happens then).
 */
export async function endSession(ctx: RelayContext, sessionId: string, generation: number, reason: DisconnectReason): Promise<SessionRecord | null> {
  const now = ctx.clock();
  const current = await ctx.state.sessions.get(sessionId);
  if (!current) return null;
  const ended = await ctx.state.sessions.end(sessionId, generation, now, endedTtl(ctx.config, current.isEphemeral));
  if (!ended) return null;
  const room = rooms.session(sessionId);
  ctx.viewer.to(room).emit("disconnected", { reason });
  ctx.viewer.in(room).disconnectSockets();
  hubRemoved(ctx, ended.userId, sessionId);
  ctx.log.info({ sessionId, reason, generation }, "session ended");
  return ended;
}

/**
 * A new incarnation of a session id starts a new join for whoever still watches the id: a fresh
 * `connected` (no `resumedFrom`) at the new incarnation's `seq`, then `synced`. Viewers normally left
 * when the previous one ended; if they are still there, the previous incarnation vanished without
 * ending (shared state wiped, or expired on a dead node), and its `seq` may have started over: without
 * this they would drop every new event up to their old position as a duplicate. Clients of both stacks
 * take a fresh `connected` as a reset of their position (the bridge passes it on to legacy viewers).
 */
function restartViewers(ctx: RelayContext, record: SessionRecord): void {
  const room = ctx.viewer.to(rooms.session(record.sessionId));
  room.emit("connected", {
    sessionId: record.sessionId,
    lastSeq: record.seq,
    isActive: record.isActive,
    lastHeartbeatAt: record.lastHeartbeatAt,
    sessionName: record.sessionName,
  });
  room.emit("synced", { sessionId: record.sessionId, lastSeq: record.seq });
}

/**
 * The rooms a CLI connection of a session is in: `cli:<id>`, and `cli-acked:<id>` for the generation
 * whose `input` listener takes an acknowledgement (protocol/generations.ts, `inputWithAck`).
 */
function cliRooms(socket: TypedSocket<"/relay">, sessionId: string): string[] {
  return GENERATION_SPECS[socket.data.clientGeneration].inputWithAck ? [rooms.cli(sessionId), rooms.cliAcked(sessionId)] : [rooms.cli(sessionId)];
}

/** `session_end` from the CLI: ends its session and forgets it; the socket may register again. */
export async function endByClient(ctx: RelayContext, socket: TypedSocket<"/relay">): Promise<void> {
  const sessionId = socket.data.sessionId;
  if (!sessionId) return;
  const generation = socket.data.generation;
  ctx.acks.forget(socket);
  socket.data.sessionId = null;
  socket.data.token = null;
  socket.data.lastAckedSeq = 0;
  socket.data.ackLimit = null;
  detachConnection(socket);
  for (const room of cliRooms(socket, sessionId)) socket.leave(room);
  await endSession(ctx, sessionId, generation, "Session ended");
}

/**
 * The CLI's socket is gone. During a graceful shutdown that is a move to another node, not an end. An
 * explicit client disconnect ends at once; a transport loss waits `reconnectGraceMs` for the CLI to come
 * back (to any node), then ends only if this generation still owns the session and no CLI connection of
 * it is present anywhere in the cluster (a confirmed zero, never an unknown).
 */
export function onCliDisconnect(ctx: RelayContext, socket: TypedSocket<"/relay">, reason: string, reconnectGraceMs: number): void {
  const sessionId = socket.data.sessionId;
  const generation = socket.data.generation;
  detachConnection(socket);
  if (!sessionId || ctx.lifecycle.shuttingDown) return;
  const explicit = reason === "client namespace disconnect" || reason === "server namespace disconnect";
  const teardown = async (): Promise<void> => {
    if (ctx.lifecycle.shuttingDown) return;
    if (!explicit) {
      const presence = await cliPresence(ctx, sessionId);
      if (!presence.known || (presence.counts.get(rooms.cli(sessionId)) ?? 0) > 0) return;
    }
    await endSession(ctx, sessionId, generation, "Session ended");
  };
  const run = (): void => {
    teardown().catch((err: unknown) => ctx.log.error({ err, sessionId }, "session teardown failed"));
  };
  if (explicit || reconnectGraceMs === 0) run();
  else setTimeout(run, reconnectGraceMs).unref();
}
