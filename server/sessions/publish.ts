import { withEncoding } from "../io/known-json.js";
import { rooms, type TypedSocket } from "../io/typed.js";
import type { PublishInput, PublishKind } from "../state/types.js";
import { getConnection, type CliConnection } from "./connection.js";
import { expiryFrom, sessionTtl, type RelayContext } from "./context.js";
import { hubStatus } from "./hub-feed.js";
import { modelKey, modelSummary, normalizeSessionName } from "./normalize.js";
import { isRecord } from "./thinking.js";
import { boundedText } from "../limits.js";
import { stackOf } from "../observability/connections.js";
import type { Stack } from "../observability/metrics.js";

export interface PublishRequest {
  token?: string | undefined;
  event?: unknown;
  seq?: number | undefined;
}

export type PublishOutcome = { ok: true; seq: number } | { ok: true; duplicate: true } | { ok: false; reason: "invalid_token" | "unavailable" };

/**
 * True when the frame's token (if any) is this connection's; native clients may omit it. A plain
 * comparison, not a constant-time one: the token was handed to this very connection when it registered,
 * so timing reveals nothing its sender does not hold, and on this path (every event of a legacy CLI) the
 * two Buffers of a constant-time comparison were 1 % of a legacy node's time.
 */
export function tokenMatches(socket: TypedSocket<"/relay">, token: string | undefined): boolean {
  if (!socket.data.sessionId || !socket.data.token) return false;
  return token === undefined || token === socket.data.token;
}

/**
 * The event path (legacy 2.1 `event`): token check, cumulative `event_ack` (sent before any processing,
 * as legacy clients expect), state side effects, thinking stamps, then one atomic append in shared
 * state that assigns the viewer `seq`, then the broadcast to the session room.
 *
 * Nothing here awaits before the append is issued, so appends leave in arrival order and, pipelined on
 * one connection, complete in that order: broadcasts follow seq order without a per-session lock and
 * without blocking on storage between events.
 */
export async function publishFromCli(ctx: RelayContext, socket: TypedSocket<"/relay">, req: PublishRequest): Promise<PublishOutcome> {
  const arrived = performance.now();
  const conn = getConnection(socket);
  const sessionId = socket.data.sessionId;
  if (!sessionId || !conn || !tokenMatches(socket, req.token)) return { ok: false, reason: "invalid_token" };
  // Before anything can refuse the event: the next one on this connection must not be stored unless
  // this one was (PublishInput.dedupe.after).
  const streamed = socket.data.streamId !== null && Number.isSafeInteger(req.seq);
  const after = socket.data.lastStreamSeq;
  if (streamed) socket.data.lastStreamSeq = req.seq as number;
  const outcome = await store(ctx, socket, conn, sessionId, req, streamed, after, arrived);
  if (outcome.ok) acknowledgeStored(ctx, socket, req.seq);
  else holdAcks(socket, req.seq);
  return outcome;
}

/**
 * The cumulative `event_ack` (docs/legacy-protocol.md section 2.4): its mark moves once the event is
 * stored, to the highest client `seq` such that everything this registration sent before is stored too.
 * Directly, not through the adapter (one XADD per event for a cumulative ack is not worth recovering),
 * and folded per connection by `ctx.acks` (server/sessions/ack-coalescer.ts).
 */
function acknowledgeStored(ctx: RelayContext, socket: TypedSocket<"/relay">, seq: number | undefined): void {
  if (typeof seq !== "number" || !Number.isFinite(seq)) return;
  const limit = socket.data.ackLimit;
  if (limit !== null && seq >= limit) return;
  if (seq <= socket.data.lastAckedSeq) return;
  socket.data.lastAckedSeq = seq;
  // Legacy CLIs expect one ack frame per event (docs/legacy-protocol.md section 2.4).
  ctx.acks.advanced(socket, stackOf(socket) === "legacy");
}

/** An event of this registration was not stored: no cumulative ack may reach its `seq` from now on. */
export function holdAcks(socket: TypedSocket<"/relay">, seq: number | undefined): void {
  if (typeof seq !== "number" || !Number.isFinite(seq)) return;
  socket.data.ackLimit = Math.min(socket.data.ackLimit ?? Number.POSITIVE_INFINITY, seq);
}

async function store(
  ctx: RelayContext,
  socket: TypedSocket<"/relay">,
  conn: CliConnection,
  sessionId: string,
  req: PublishRequest,
  streamed: boolean,
  after: number | null,
  arrived: number,
): Promise<PublishOutcome> {
  const now = ctx.clock();
  const event = conn.thinking.process(req.event);
  const effects = sideEffects(conn, event, now, ctx.config.limits.fieldBytes);
  let eventJson: string | undefined;
  let stateJson: string | undefined;
  try {
    eventJson = event === undefined ? undefined : JSON.stringify(event);
    if (effects.kind === "state" && isRecord(event) && event.state !== undefined) stateJson = JSON.stringify(event.state);
  } catch (err) {
    // Unreachable for frames parsed from JSON; kept so a bad in-process caller cannot crash the node.
    ctx.log.warn({ err, sessionId }, "event is not serialisable; dropped");
    return { ok: false, reason: "unavailable" };
  }
  const input: PublishInput = {
    sessionId,
    generation: socket.data.generation,
    eventJson,
    kind: effects.kind,
    stateJson,
    now,
    expiresAt: expiryFrom(ctx.config, conn.isEphemeral, now),
    ttlMs: sessionTtl(ctx.config, conn.isEphemeral),
    bufferSize: ctx.config.eventBufferSize,
  };
  if (effects.patch) input.patch = effects.patch;
  if (streamed && socket.data.streamId !== null) input.dedupe = { streamId: socket.data.streamId, seq: req.seq as number, ...(after !== null ? { after } : {}) };
  let result;
  try {
    result = await ctx.state.sessions.publish(input);
  } catch (err) {
    ctx.log.error({ err, sessionId }, "event append failed: shared state unavailable");
    return { ok: false, reason: "unavailable" };
  }
  if (!result.ok && result.reason === "gap") {
    // An earlier event of this connection was not stored: the client registers again and resends both.
    ctx.log.info({ sessionId, seq: req.seq }, "event refused: an earlier one of its stream was not stored");
    return { ok: false, reason: "unavailable" };
  }
  // A newer registration owns the session (legacy: the replaced CLI's frames get "Invalid token").
  if (!result.ok) return { ok: false, reason: "invalid_token" };
  const stack = stackOf(socket);
  // A resend of an event already stored (its ack was lost with the connection): viewers have it, or
  // will fetch it from the log by seq; publishing it again would show it twice.
  if ("duplicate" in result) {
    ctx.metrics.eventsDeduplicated.inc();
    return result;
  }
  broadcast(ctx, sessionId, event, eventJson, result.seq, stack);
  ctx.metrics.byStack[stack].ackSeconds.observe((performance.now() - arrived) / 1000);
  ctx.push.onSessionEvent({ sessionId, userId: conn.userId, sessionName: conn.status.sessionName }, event);
  if (effects.statusChanged) {
    const s = conn.status;
    hubStatus(ctx, conn.userId, { sessionId, isActive: s.isActive, lastHeartbeatAt: s.lastHeartbeatAt, sessionName: s.sessionName, model: s.model });
  }
  return { ok: true, seq: result.seq };
}

interface Effects {
  kind: PublishKind;
  patch?: PublishInput["patch"];
  statusChanged: boolean;
}

/** Legacy 2.5: what `session_active` and `heartbeat` change in the session's hub-visible status. */
function sideEffects(conn: CliConnection, event: unknown, now: number, maxBytes: number): Effects {
  if (!isRecord(event)) return { kind: "other", statusChanged: false };
  const status = conn.status;
  if (event.type === "session_active") {
    const state = event.state;
    if (isRecord(state) && Object.prototype.hasOwnProperty.call(state, "sessionName")) {
      const name = boundedText(normalizeSessionName(state.sessionName), maxBytes);
      if (name !== status.sessionName) {
        status.sessionName = name;
        return { kind: "state", patch: { sessionName: name }, statusChanged: true };
      }
    }
    return { kind: "state", statusChanged: false };
  }
  if (event.type === "heartbeat") {
    const isActive = event.active === true;
    const model = modelSummary(event.model);
    const key = modelKey(model);
    const lastHeartbeatAt = new Date(now).toISOString();
    const hasName = Object.prototype.hasOwnProperty.call(event, "sessionName");
    const name = hasName ? boundedText(normalizeSessionName(event.sessionName), maxBytes) : status.sessionName;
    const changed = isActive !== status.isActive || key !== status.modelKey || name !== status.sessionName;
    Object.assign(status, { isActive, model, modelKey: key, sessionName: name, lastHeartbeatAt });
    return { kind: "heartbeat", patch: { isActive, model, lastHeartbeatAt, sessionName: name }, statusChanged: changed };
  }
  return { kind: "other", statusChanged: false };
}

/**
 * `runner_session_event` (legacy 4.3, older runner generation): published like a CLI event (seq + 1,
 * log, broadcast), without hub side effects and without push, if the session is live, the runner's
 * user's and linked to that runner: checked by the append itself (`PublishInput.owner`), one round trip
 * to shared state where a read of the record and then the append took two.
 */
export async function publishForRunner(ctx: RelayContext, owner: { userId: string; runnerId: string }, sessionId: string, event: unknown, stack: Stack): Promise<PublishOutcome> {
  const now = ctx.clock();
  const kind: PublishKind = isRecord(event) && event.type === "session_active" ? "state" : isRecord(event) && event.type === "heartbeat" ? "heartbeat" : "other";
  const eventJson = event === undefined ? undefined : JSON.stringify(event);
  const input: PublishInput = {
    sessionId,
    eventJson,
    kind,
    stateJson: kind === "state" && isRecord(event) && event.state !== undefined ? JSON.stringify(event.state) : undefined,
    now,
    expiresAt: expiryFrom(ctx.config, false, now),
    ttlMs: sessionTtl(ctx.config, false),
    bufferSize: ctx.config.eventBufferSize,
    owner: { ...owner, ephemeral: { expiresAt: expiryFrom(ctx.config, true, now), ttlMs: sessionTtl(ctx.config, true) } },
  };
  const result = await ctx.state.sessions.publish(input);
  if (!result.ok) return { ok: false, reason: "invalid_token" };
  if ("duplicate" in result) return result;
  broadcast(ctx, sessionId, event, eventJson, result.seq, stack);
  return { ok: true, seq: result.seq };
}

/**
 * A stored event to the session's viewers, on every node, with the time it was stored: each node counts
 * its deliveries and their latency from it (server/observability/connections.ts). The event's JSON was
 * made for the log already: the event carries it (server/io/known-json.ts), so neither the encoder (for
 * the payload around it) nor the bridge (for its legacy frame) stringifies the event again.
 */
function broadcast(ctx: RelayContext, sessionId: string, event: unknown, eventJson: string | undefined, seq: number, stack: Stack): void {
  const publishedAt = ctx.clock();
  const payload = event === undefined ? { seq, publishedAt } : { event, seq, publishedAt };
  if (typeof event === "object" && event !== null && eventJson !== undefined) withEncoding(event, eventJson);
  ctx.viewer.to(rooms.session(sessionId)).emit("event", payload);
  ctx.metrics.byStack[stack].published.inc();
}
